use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        runtime = f65;
        input x: [3];
        input w: [2, 0];
        let a = relu(q);
        let b = matvek(w, x);
        let c = x;
        let d = sum(x, x);
    };
}
