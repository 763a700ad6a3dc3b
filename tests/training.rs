//! `Model::train_step` on a `scale_graph!` model: the inputs get the new weights, the report
//! names the update rows, and the per-step bound covers an independent f64 reference.

use scale_graph::optim::{Momentum, Trainer};
use scale_graph::report::RowKind;
use scale_graph::{Model, scale_graph};

#[test]
fn train_step_updates_the_named_inputs_and_reports_them() {
    let m = scale_graph! {
        input x: [4, 3];
        input w: [3, 2];
        input target: [4, 2];
        let loss = mse(matmul(x, w), target);
    };
    let mut inputs = m.random_inputs(3);
    let w0 = inputs.w.clone();
    let opt = Momentum {
        lr: 0.1,
        nesterov: true,
        ..Momentum::default()
    };
    let mut trainer = Trainer::new(opt, &[m.vars.w.pos()]).unwrap();
    for t in 1..=3 {
        // Reference for this step: the exact gradient of the mse at the stored weights, in f64.
        let x = inputs.x.mapv(f64::from);
        let w = inputs.w.mapv(f64::from);
        let y = inputs.target.mapv(f64::from);
        let g = x.t().dot(&((x.dot(&w) - &y) * (2.0 / 8.0)));
        let buf_before = trainer
            .state_of(m.vars.w.pos())
            .first()
            .map(|(_, s)| s.value.mapv(f64::from));
        let step = m
            .train_step(&mut inputs, m.vars.loss, &mut trainer)
            .unwrap();
        let buf = match buf_before {
            None => g.clone().into_dyn(),
            Some(b) => b * 0.9 + g.clone().into_dyn(),
        };
        let w_ref = w.into_dyn() - (g.into_dyn() + &buf * 0.9) * 0.1;
        let err = inputs
            .w
            .iter()
            .zip(w_ref.iter())
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        let u = &step.updates[0];
        assert!(
            err <= u.eps.get() * (1.0 + 1e-9) + 1e-15,
            "step {t}: {err} > {}",
            u.eps.get()
        );
        assert!(u.eps.get() < 1e-5);
        let report = m.step_report(&step, &trainer);
        let names: Vec<&str> = report
            .rows
            .iter()
            .filter(|r| r.kind == RowKind::Update)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["w'", "w.momentum_buffer"]);
        assert!(report.to_table().contains("lost"));
    }
    assert_ne!(inputs.w, w0);
    assert_eq!(trainer.steps(), 3);
}
