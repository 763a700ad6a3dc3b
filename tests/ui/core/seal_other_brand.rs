// Sealing graph B's builder with a handle of graph A.
use scale_graph::context::{Nil, Seg};
use scale_graph::{Rank1, RevGraphScale, ops};

type Gamma = Seg<Nil, (Rank1<3>,)>;

fn main() {
    let (ga, (xa,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (gb, (xb,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let mut a = ga.open();
    let ha = a.push(ops::relu(xa));
    let mut b = gb.open();
    let _hb = b.push(ops::relu(xb));
    let _g = b.seal((ha,));
}
