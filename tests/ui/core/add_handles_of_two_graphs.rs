// `ops::add` of a handle of graph A and a handle of graph B.
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank1, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank1<3>,)>;

fn main() {
    let (_ga, (xa,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (_gb, (xb,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let _n = ops::add(xa, xb);
}
