//! One mistake gives one error: the model's later uses add neither an "unreachable statement"
//! warning nor errors of their own.
use scale_graph::scale_graph;

fn main() {
    let m = scale_graph! {
        input x: [3];
        let loss = sum(relu(z));
    };
    let inputs = m.zero_inputs();
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    println!("{}", m.report(&cert).to_json());
}
