//! Every op of SPEC §9 and §9b through the macro, each family at least once, with a certified
//! pass (the §9b axis ops also with const-generic dimensions).
use scale_graph::scale_graph;

#[test]
fn compiles_and_runs() {
    let m = scale_graph! {
        input x: [3];
        input y: [3];
        input a: [2, 3];
        input b: [3, 4];
        input bias: [4];
        input t: [2, 4];
        // elementwise
        let e1 = sub(add(x, y), mul(x, y)) - neg(x) + x * y;
        let e2 = scale(leaky_relu(e1, 0.01), 0.5);
        let e3 = tanh(e2) + sigmoid(e2) + exp(e2) + softplus(e2) + square(e2) + relu(e2) + abs(e2);
        let e4 = log(exp(e3));
        // linear algebra
        let mm = matmul(a, b);
        let mv = matvec(transpose(b), x);
        let d = dot(x, y);
        let h = add_bias(mm, bias);
        // reductions and reshape
        let s = sum(e4) + mean(mv) + d;
        let rows = sum_rows(h);
        let r = reshape(h, [4, 2]);
        let rr = reshape(r, [8]);
        // softmax family and losses
        let p = softmax(h);
        let lp = log_softmax(rows);
        let l1 = mse(p, softmax(t));
        let l2 = cross_entropy(h, softmax(t));
        let loss = l1 + l2 + s + sum(lp) + sum(rr);
        // elementwise ops of SPEC §9b
        let q = div(x, exp(y)) + sqrt(square(x)) + rsqrt(softplus(y));
        let mx = maximum(x, y) - minimum(q, neg(x));
        let ge = gelu(mx) + gelu_tanh(mx);
        // normalisation (rank 3 input, parameters of its last axis)
        input xn: [2, 3, 4];
        input gn: [4];
        input bn: [4];
        let ln = layer_norm(xn, gn, bn, 1e-5);
        let rn = rms_norm(ln, gn, 1e-6);
        let loss_n = sum(rn) + loss;
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.5);
    inputs.y.fill(-0.25);
    inputs.a.fill(0.125);
    inputs.b.fill(0.75);
    inputs.t.fill(1.0);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.loss).get().is_finite());
    assert_eq!(cert.values.get(m.vars.r).shape(), &[4, 2]);
    assert!(cert.grad_tol(m.vars.a).abs.is_finite());
    assert!(cert.eps.get(m.vars.q).get().is_finite());
    assert!(cert.eps.get(m.vars.mx).get().is_finite());
    assert!(cert.eps.get(m.vars.ge).get().is_finite());
    let mut inputs = m.zero_inputs();
    inputs.xn.fill(0.5);
    inputs.gn.fill(1.0);
    let cert = m.certify(&inputs, m.vars.loss_n).unwrap();
    assert!(cert.eps.get(m.vars.ln).get().is_finite());
    axes::<2, 3>();
    conv::<2, 3>();
    pool::<2, 3>();
    batched::<2, 3>();
    broadcast::<2, 3>();
}

/// The axis ops of SPEC §9b on rank 3 and 4, with const-generic batch dimensions `B`, `N`.
fn axes<const B: usize, const N: usize>() {
    let m = scale_graph! {
        input x: [B, N, 4];
        input y: [B, N, 2];
        input q: [B, 1, N, 4];
        input sq: [B, N, N];
        input sq4: [2, B, N, N];
        let s1 = sum(x, 2);
        let m1 = mean(x, 0);
        let p = permute(x, [2, 0, 1]);
        let p4 = permute(q, [0, 2, 1, 3]);
        let sl = slice(x, 2, 1, 3);
        let c = concat(sl, y, 2);
        let sm = softmax(x) + log_softmax(x);
        let pc = softmax_causal(sq);
        let pq = softmax_causal(softmax(sq4));
        let loss = sum(s1) + sum(m1) + sum(p) + sum(mean(p4, 3)) + sum(sum(c, 1)) + sum(sm)
            + sum(pc) + sum(pq);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.5);
    inputs.y.fill(-0.25);
    inputs.q.fill(1.5);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.loss).get().is_finite());
    assert_eq!(cert.values.get(m.vars.p).shape(), &[4, B, N]);
    assert_eq!(cert.values.get(m.vars.c).shape(), &[B, N, 4]);
    assert!(cert.grad_tol(m.vars.x).abs.is_finite());
}

/// Batched products of SPEC §9b on rank 3 and 4, with const-generic dimensions `B`, `N`:
/// `bmm` over equal batch axes, `matmul` with a weight shared over the leading axes, and
/// attention (plain and causal) on their results.
fn batched<const B: usize, const N: usize>() {
    let m = scale_graph! {
        input x: [B, N, 4];
        input w: [4, N];
        input k: [B, N, 4];
        input q4: [2, B, N, 4];
        input k4: [2, B, 4, N];
        let h = matmul(x, w);
        let sc = bmm(h, k);
        let b4 = bmm(q4, k4);
        let h4 = matmul(q4, w);
        let at = attention(x, k, h);
        let ac = attention_causal(k, x, sc);
        let a4 = attention_causal(q4, q4, h4);
        let loss = sum(sc) + sum(b4) + sum(h4) + sum(at) + sum(ac) + sum(a4);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.5);
    inputs.w.fill(-0.25);
    inputs.k.fill(1.5);
    inputs.q4.fill(0.75);
    inputs.k4.fill(2.0);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.loss).get().is_finite());
    assert_eq!(cert.values.get(m.vars.h).shape(), &[B, N, N]);
    assert_eq!(cert.values.get(m.vars.sc).shape(), &[B, N, 4]);
    assert_eq!(cert.values.get(m.vars.b4).shape(), &[2, B, N, N]);
    assert!(cert.grad_tol(m.vars.w).abs.is_finite());
    assert!(cert.grad_tol(m.vars.k4).abs.is_finite());
    assert_eq!(cert.values.get(m.vars.at).shape(), &[B, N, N]);
    assert!(cert.eps.get(m.vars.ac).get().is_finite());
    assert!(cert.eps.get(m.vars.a4).get().is_finite());
}

/// The convolutions of SPEC §9b with const-generic batch `B` and channels `C` (the spatial
/// sizes are literals: the macro computes the output sizes from them).
fn conv<const B: usize, const C: usize>() {
    let m = scale_graph! {
        input x: [B, C, 8, 8];
        input w1: [4, C, 3, 3];
        input w2: [2, 4, 2, 2];
        input s: [B, C, 10];
        input k: [5, C, 3];
        let c1 = relu(conv2d(x, w1, 1, 1));
        let c2 = conv2d(c1, w2, 2, 0);
        let c3 = conv1d(s, k, 2, 1);
        let loss = sum(c2) + sum(c3);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.5);
    inputs.w1.fill(0.25);
    inputs.w2.fill(-0.5);
    inputs.s.fill(1.5);
    inputs.k.fill(0.125);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.loss).get().is_finite());
    assert_eq!(cert.values.get(m.vars.c1).shape(), &[B, 4, 8, 8]);
    assert_eq!(cert.values.get(m.vars.c2).shape(), &[B, 2, 4, 4]);
    assert_eq!(cert.values.get(m.vars.c3).shape(), &[B, 5, 5]);
    assert!(cert.grad_tol(m.vars.w1).abs.is_finite());
}

/// The poolings of SPEC §9b with const-generic batch `B` and channels `C` (literal spatial
/// sizes, as for the convolutions; 7 rows with k = 2 exercise the floor).
fn pool<const B: usize, const C: usize>() {
    let m = scale_graph! {
        input x: [B, C, 7, 8];
        let p = max_pool2d(x, 2);
        let q = avg_pool2d(relu(p), 3);
        let loss = sum(q) + sum(p);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.5);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.loss).get().is_finite());
    assert_eq!(cert.values.get(m.vars.p).shape(), &[B, C, 3, 4]);
    assert_eq!(cert.values.get(m.vars.q).shape(), &[B, C, 1, 1]);
    assert!(cert.grad_tol(m.vars.x).abs.is_finite());
}

/// `expand` of SPEC §9b with const-generic dimensions `B`, `N`: a reduction broadcast back over
/// its axis (the centring of a layer norm written out), a scalar to a vector, rank 3 to rank 4.
fn broadcast<const B: usize, const N: usize>() {
    let m = scale_graph! {
        input x: [B, 4];
        input t: [B, N, 4];
        let c = x - expand(mean(x, 1), 1, 4);
        let v = expand(sum(x), 0, 3);
        let t4 = expand(t, 0, 2);
        let loss = sum(square(c)) + sum(v) + sum(sum(t4, 0));
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.5);
    inputs.t.fill(-0.25);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.loss).get().is_finite());
    assert_eq!(cert.values.get(m.vars.c).shape(), &[B, 4]);
    assert_eq!(cert.values.get(m.vars.v).shape(), &[3]);
    assert_eq!(cert.values.get(m.vars.t4).shape(), &[2, B, N, 4]);
    assert!(cert.grad_tol(m.vars.x).abs.is_finite());
}
