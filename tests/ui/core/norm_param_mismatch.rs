// layer_norm of a [2, 3] input with a [4] gamma: the parameter must match the last axis.
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank1, Rank2, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank2<2, 3>, Rank1<4>, Rank1<3>)>;

fn main() {
    let (g, (x, gamma, beta)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (_g, _y) = g.snoc(ops::layer_norm(x, gamma, beta, 1e-5).unwrap());
}
