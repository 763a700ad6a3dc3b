// matvec of a [2, 3] matrix and a [4] vector: the inner dimensions differ.
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank1, Rank2, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank2<2, 3>, Rank1<4>)>;

fn main() {
    let (g, (w, x)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (_g, _y) = g.snoc(ops::matvec(w, x));
}
