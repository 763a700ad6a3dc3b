// A node built from handles of graph A is appended to graph B.
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank1, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank1<3>,)>;

fn main() {
    let (_ga, (xa,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (gb, _) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (_gb, _y) = gb.snoc(ops::relu(xa));
}
