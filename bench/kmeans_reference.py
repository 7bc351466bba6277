#!/usr/bin/env python3
"""scikit-learn timings for core/benches/kmeans.rs: the same shapes (100 000 × 48 uniform
float32 vectors in [-1, 1), k = 256) and settings (Lloyd: k-means++, n_init=1, 20 iterations,
tol=0; mini-batch: batch 4096, n_init=1, max_iter=20, early stopping on). Prints JSON:
{"sklearn_s": Lloyd fit, "sklearn_assign_s": predict, "sklearn_minibatch_s": MiniBatchKMeans
fit, "iterations": Lloyd iterations run, "minibatch_steps": mini-batch steps run}; each time is
the median of a few runs.
"""
import json
import statistics
import time

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

VECTORS, DIMS, K, MAX_ITER, BATCH_SIZE, REPEATS = 100_000, 48, 256, 20, 4096, 5


def median_seconds(work):
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    data = np.random.default_rng(48).uniform(-1.0, 1.0, size=(VECTORS, DIMS)).astype(np.float32)

    def lloyd():
        return KMeans(n_clusters=K, init="k-means++", n_init=1, max_iter=MAX_ITER, tol=0.0,
                      algorithm="lloyd", random_state=0).fit(data)

    def mini_batch():
        return MiniBatchKMeans(n_clusters=K, batch_size=BATCH_SIZE, n_init=1,
                               max_iter=MAX_ITER, random_state=0).fit(data)

    model = KMeans(n_clusters=K, n_init=1, max_iter=1, random_state=0).fit(data)
    print(json.dumps({
        "sklearn_s": median_seconds(lloyd),
        "sklearn_assign_s": median_seconds(lambda: model.predict(data)),
        "sklearn_minibatch_s": median_seconds(mini_batch),
        "iterations": int(lloyd().n_iter_),
        "minibatch_steps": int(mini_batch().n_steps_),
    }))


if __name__ == "__main__":
    main()
