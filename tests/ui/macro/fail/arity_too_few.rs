use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input w: [2, 3];
        let y = matvec(w);
    };
}
