// In a generic fn, adding a [H] and a [W] must be rejected in the fn itself (H and W may differ).
use scale_graph::ops::elementwise::Add;
use scale_graph::{Rank1, Var, ops};

fn f<const H: usize, const W: usize, B>(a: Var<Rank1<H>, B>, b: Var<Rank1<W>, B>) -> Add<Rank1<H>, B> {
    ops::add(a, b)
}

fn main() {}
