// Pushing, through graph B's builder, a node built from graph A's handles.
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank1, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank1<3>,)>;

fn main() {
    let (_ga, (xa,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (gb, _) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let mut b = gb.open();
    let _y = b.push(ops::sum(xa));
}
