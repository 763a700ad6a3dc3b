// Elementwise `add` of a [3] and a [4] (literal dimensions).
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank1, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank1<3>, Rank1<4>)>;

fn main() {
    let (g, (x, y)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (_g, _z) = g.snoc(ops::add(x, y));
}
