//! GELU (tanh approximation, as in ViT/wav2vec2 implementations), fused.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::fast_tanh;
use super::rows::{Float, binary_rows, unary_rows};

/// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` with a one-pass backward; candle's own
/// backward for this op is a chain of a dozen elementwise tensors.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Gelu)
}

/// The tanh each precision uses: the vectorised one in `f32` (training), the exact one in
/// `f64` (gradient checks and the comparison with candle's GELU).
trait Tanh: Float {
    fn gelu_tanh(self) -> Self;
}

impl Tanh for f32 {
    #[inline(always)]
    fn gelu_tanh(self) -> Self {
        fast_tanh::tanh(self)
    }
}

impl Tanh for f64 {
    #[inline(always)]
    fn gelu_tanh(self) -> Self {
        self.tanh()
    }
}

struct Gelu;

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const CUBIC: f64 = 0.044_715;

fn forward<T: Tanh>(x: &[T], out: &mut [T]) {
    let (k, c, half) = (T::of(SQRT_2_OVER_PI), T::of(CUBIC), T::of(0.5));
    for (o, &v) in out.iter_mut().zip(x) {
        *o = half * v * (T::one() + (k * (v + c * v * v * v)).gelu_tanh());
    }
}

fn backward<T: Tanh>(x: &[T], dy: &[T], dx: &mut [T]) {
    let (k, c, half) = (T::of(SQRT_2_OVER_PI), T::of(CUBIC), T::of(0.5));
    let three_c = T::of(3.0 * CUBIC);
    for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
        let t = (k * (v + c * v * v * v)).gelu_tanh();
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
