// A typed index (handle) of shape [3] passed where a [4] handle is required.
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank0, Rank1, RevGraphScale, Var, ops};

type Gamma = Seg<Nil, (Rank1<3>,)>;

fn norm_input<B>(x: Var<Rank1<4>, B>) -> scale_graph::ops::reduce::Sum<Rank1<4>, B> {
    ops::sum(x)
}

fn main() {
    let (g, (x,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (_g, _s): (_, Var<Rank0, _>) = g.snoc(norm_input(x));
}
