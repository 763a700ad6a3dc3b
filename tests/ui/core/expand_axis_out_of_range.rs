// expand of a [2, 3] input at axis 3: the new axis goes at 0 to 2, so rustc rejects it without
// the macro (no `InsertAxis<3, _>` for a rank-2 shape).
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank2, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank2<2, 3>,)>;

fn main() {
    let (g, (x,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (_g, _y) = g.snoc(ops::expand(x, ops::Idx::<3>, ops::Idx::<4>));
}
