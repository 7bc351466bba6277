//! GELU (tanh approximation, as in ViT/wav2vec2 implementations), fused.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::rows::{Float, binary_rows, unary_rows};

/// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` with a one-pass backward; candle's own
/// backward for this op is a chain of a dozen elementwise tensors.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Gelu)
}

struct Gelu;

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const CUBIC: f64 = 0.044_715;

fn forward<T: Float>(x: &[T], out: &mut [T]) {
    let (k, c, half) = (T::of(SQRT_2_OVER_PI), T::of(CUBIC), T::of(0.5));
    for (o, &v) in out.iter_mut().zip(x) {
        *o = half * v * (T::one() + (k * (v + c * v * v * v)).fast_tanh());
    }
}

fn backward<T: Float>(x: &[T], dy: &[T], dx: &mut [T]) {
    let (k, c, half) = (T::of(SQRT_2_OVER_PI), T::of(CUBIC), T::of(0.5));
    let three_c = T::of(3.0 * CUBIC);
    for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
        let t = (k * (v + c * v * v * v)).fast_tanh();
        let slope = half * (T::one() + t)
            + half * v * (T::one() - t * t) * k * (T::one() + three_c * v * v);
        *d = g * slope;
    }
}

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-tanh"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        unary_rows(storage, layout, self.name(), forward::<f32>, forward::<f64>)
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad, &GeluBackward)?))
    }
}

struct GeluBackward;

impl CustomOp2 for GeluBackward {
    fn name(&self) -> &'static str {
        "gelu-tanh-backward"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        dy: &CpuStorage,
        ldy: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        binary_rows(
            x,
            lx,
            dy,
            ldy,
            self.name(),
            backward::<f32>,
            backward::<f64>,
        )
    }
}
