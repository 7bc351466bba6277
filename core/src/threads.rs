//! How candle's CPU threads are set up for training on few cores.
//!
//! candle 0.11 runs its large elementwise ops (≥ 64 Ki elements: residual adds, gradient
//! accumulation, optimiser updates) on a barrier pool of its own, beside the rayon pool
//! that runs matmuls and our fused ops. After every such op its workers spin for 25 000
//! pause instructions before they sleep, so on two cores they compete with the rayon
//! threads of the next matmul, and the main thread spins in turn waiting for a worker the
//! scheduler has put aside. In a PupuJEPA-Tiny training step that spinning was about 30 %
//! of the CPU time; with the elementwise ops on the calling thread the step took a quarter
//! less CPU time and ran faster, since those ops are bound by memory anyway.

/// candle's environment variable for its elementwise thread count.
const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";

/// Runs candle's elementwise ops on the calling thread unless the user set
/// `CANDLE_NUM_THREADS` (matmuls and our fused ops keep using every core through rayon).
///
/// # Safety
///
/// It sets an environment variable, so it must run before the program starts any other
/// thread (first thing in `main`), as [`std::env::set_var`] requires. It only has an
/// effect before candle's first large elementwise op, which reads the variable once.
pub unsafe fn elementwise_on_calling_thread() {
    if std::env::var_os(CANDLE_NUM_THREADS).is_none() {
        // SAFETY: the caller guarantees no other thread is running.
        unsafe { std::env::set_var(CANDLE_NUM_THREADS, "1") };
    }
}
