use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [4];
        input w: [2, 4];
        let y = sum(matvec(w, x) + x);
    };
}
