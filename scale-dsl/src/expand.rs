//! Stage 3: [`Plan`] → Rust code over the core's typed builder API.
//!
//! The generated block declares a fresh brand type and three structs (the model, its handles,
//! its inputs), builds the graph with `nil`, `open`, one `push` per node through the builder's
//! `Pusher`, a `Part` per 64 nodes, the parts joined pairwise into a balanced binary tree, and one
//! `seal_part`, and returns the model. Every op is a call of its typed constructor, so rustc
//! checks every op's shapes itself — also when dimensions are const generics the macro cannot
//! judge; the model's graph type, written out once with the shapes the macro computed (as the
//! same tree), ties them to rustc's per segment (only `reshape` writes its output type per node,
//! to pick the target shape).
//!
//! The tree keeps the depth of `Γ` and `ss` at about log₂(N/64) + 2, so no trait that walks them
//! (`Append` for `Γ ++ ss`, `ShapeList`) nears the default recursion limit, and every binding
//! holds one subtree's type rather than a list that grows with the graph, so type checking stays
//! linear.

use crate::plan::{InputPlan, Plan, RuntimeTy};
use crate::rules::{LitArg, LitValue};
use crate::shape::PDim;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

/// Nodes (and inputs) per leaf segment of the graph type.
pub const SEGMENT: usize = 64;

/// Fold `leaves` into a balanced binary tree (the left half takes the odd leaf): a single leaf
/// is itself, a longer run is `node(tree(left half), tree(right half))`. The type, the vars
/// pattern and the part joins all use this one shape, so they agree.
fn tree<T>(
    leaves: &[T],
    leaf: &mut impl FnMut(&T) -> TokenStream,
    node: &mut impl FnMut(TokenStream, TokenStream) -> TokenStream,
) -> Option<TokenStream> {
    match leaves {
        [] => None,
        [one] => Some(leaf(one)),
        _ => {
            let (l, r) = leaves.split_at(leaves.len().div_ceil(2));
            let l = tree(l, leaf, node)?;
            let r = tree(r, leaf, node)?;
            Some(node(l, r))
        }
    }
}

fn dim_tokens(d: &PDim) -> TokenStream {
    match d {
        PDim::Lit(n) => {
            let l = Literal::usize_unsuffixed(*n);
            quote!(#l)
        }
        PDim::Const(i) => quote!(#i),
    }
}

fn shape_tokens(k: &TokenStream, s: &[PDim]) -> TokenStream {
    let ds: Vec<TokenStream> = s.iter().map(dim_tokens).collect();
    match ds.as_slice() {
        [] => quote!(#k::Rank0),
        [a] => quote!(#k::Rank1<#a>),
        [a, b] => quote!(#k::Rank2<#a, #b>),
        [a, b, c] => quote!(#k::Rank3<#a, #b, #c>),
        [a, b, c, d] => quote!(#k::Rank4<#a, #b, #c, #d>),
        // The checker rejects rank > 4; this keeps the expander total.
        _ => quote!(#k::Rank0),
    }
}

fn ix_tokens(rank: usize) -> Ident {
    format_ident!("Ix{}", rank.min(4))
}

/// The context type of `shapes`: leaves `Seg<Nil, (c…)>` of up to 64 shapes, joined as a
/// balanced tree `Seg<left, right>` (`Nil` when empty).
fn list_type(k: &TokenStream, shapes: &[TokenStream]) -> TokenStream {
    let leaves: Vec<&[TokenStream]> = shapes.chunks(SEGMENT).collect();
    tree(
        &leaves,
        &mut |c| quote!(#k::Seg<#k::Nil, (#(#c,)*)>),
        &mut |l, r| quote!(#k::Seg<#l, #r>),
    )
    .unwrap_or_else(|| quote!(#k::Nil))
}

/// The pattern matching `ShapeList::Vars` of `list_type`: `(c…)` per leaf, `(left, right)` per
/// inner node.
fn vars_pattern(idents: &[Ident]) -> TokenStream {
    let leaves: Vec<&[Ident]> = idents.chunks(SEGMENT).collect();
    tree(
        &leaves,
        &mut |c| quote!((#(#c,)*)),
        &mut |l, r| quote!((#l, #r)),
    )
    .unwrap_or_else(|| quote!(()))
}

/// Const identifiers used as dimensions (become const generic parameters of the generated
/// structs, which cannot see the generics of an enclosing function).
fn const_params(plan: &Plan) -> Vec<Ident> {
    let mut out: Vec<Ident> = Vec::new();
    let shapes = plan
        .inputs
        .iter()
        .map(|i| &i.shape)
        .chain(plan.nodes.iter().map(|n| &n.out));
    for s in shapes {
        for d in s {
            if let PDim::Const(i) = d
                && !out.iter().any(|o| o == i)
            {
                out.push(i.clone());
            }
        }
    }
    out
}

/// How a literal reads in an entry's name (a shape literal only picks the type: no name).
fn lit_name(l: &LitArg) -> Option<String> {
    match &l.value {
        LitValue::Float(v) => Some(format!("{v}")),
        LitValue::Int(n) | LitValue::Axis(n) | LitValue::Index(n) => Some(n.to_string()),
        LitValue::Ints(v) => Some(format!("{v:?}")),
        LitValue::Shape(_) => None,
    }
}

/// A literal as a constructor argument, spanned at its tokens (`None`: not passed as a value).
/// Axes, bounds and permutations go at type level (`ops::Idx::<1>`, `ops::Perm3::<2, 0, 1>`,
/// values of marker types), so rustc computes the output shape from them.
fn lit_tokens(k: &TokenStream, l: &LitArg) -> Option<TokenStream> {
    let at = l.span;
    let unsigned = |n: usize| {
        let mut lit = Literal::usize_suffixed(n);
        lit.set_span(at);
        quote!(#lit)
    };
    match &l.value {
        LitValue::Float(v) => {
            let mut lit = Literal::f64_suffixed(v.abs());
            lit.set_span(at);
            Some(if v.is_sign_negative() {
                quote!(-#lit)
            } else {
                quote!(#lit)
            })
        }
        LitValue::Int(n) => Some(unsigned(*n)),
        LitValue::Axis(n) | LitValue::Index(n) => {
            let n = unsigned(*n);
            Some(quote_spanned!(at=> #k::ops::Idx::<#n>))
        }
        LitValue::Ints(v) => {
            let items = v.iter().map(|n| unsigned(*n));
            let perm = Ident::new(&format!("Perm{}", v.len()), at);
            Some(quote_spanned!(at=> #k::ops::#perm::<#(#items),*>))
        }
        LitValue::Shape(_) => None,
    }
}

/// A name for every entry: inputs and `let`s by name, nested nodes by their expression
/// (shortened to `op(…)` past 40 characters).
fn entry_names(plan: &Plan) -> Vec<String> {
    let n_in = plan.inputs.len();
    let mut names: Vec<Option<String>> = plan
        .inputs
        .iter()
        .map(|i| Some(i.name.to_string()))
        .chain(plan.nodes.iter().map(|_| None))
        .collect();
    for (name, e) in &plan.names {
        if let Some(slot) = names.get_mut(*e) {
            *slot = Some(name.to_string());
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (e, given) in names.into_iter().enumerate() {
        let name = match (given, e.checked_sub(n_in).and_then(|k| plan.nodes.get(k))) {
            (Some(n), _) => n,
            (None, Some(node)) => {
                let args: Vec<&str> = node
                    .args
                    .iter()
                    .map(|(a, _)| out.get(*a).map_or("?", String::as_str))
                    .collect();
                let params: Vec<String> = node.params.iter().filter_map(lit_name).collect();
                let all = args
                    .iter()
                    .map(|s| s.to_string())
                    .chain(params)
                    .collect::<Vec<_>>()
                    .join(", ");
                let full = format!("{}({all})", node.op.name);
                if full.chars().count() > 40 {
                    format!("{}(…)", node.op.name)
                } else {
                    full
                }
            }
            (None, None) => format!("#{e}"),
        };
        out.push(name);
    }
    out
}

/// The brand's name: after the model (`MlpBrand`), else after the graph's first binding and
/// the line it is written on, so a type error between two graphs names two different brands
/// (``expected `Brand_of_x_at_line_4`, found `Brand_of_x_at_line_5` ``).
fn brand_name(plan: &Plan) -> String {
    if let Some(h) = &plan.model {
        return format!("{}Brand", h.name);
    }
    let Some((first, _)) = plan.names.first() else {
        return "ScaleGraphBrand".to_owned();
    };
    // Raw identifiers (`r#type`) read without their prefix.
    let first = first.to_string();
    let first = first.trim_start_matches("r#");
    match first_line(plan) {
        // Line 0: no location known (spans made outside the compiler, as in unit tests).
        0 => format!("Brand_of_{first}"),
        line => format!("Brand_of_{first}_at_line_{line}"),
    }
}

fn first_line(plan: &Plan) -> usize {
    plan.names
        .first()
        .map_or(0, |(name, _)| name.span().start().line)
}

/// Expand a checked plan: a block whose value is the model, or with a `model NAME;` header,
/// the named items and `NAME::new()`.
pub fn expand(plan: &Plan) -> TokenStream {
    let k = &plan.krate;
    let mixed = Span::mixed_site();
    let call = Span::call_site();
    let (brand, model, vars_ty, inputs_ty, vis) = match &plan.model {
        Some(h) => {
            // Call-site names at the header, so the user can name every item.
            let at = h.name.span();
            let n = &h.name;
            (
                Ident::new(&brand_name(plan), at),
                h.name.clone(),
                format_ident!("{n}Vars", span = at),
                format_ident!("{n}Inputs", span = at),
                h.vis.clone(),
            )
        }
        None => (
            Ident::new(&brand_name(plan), mixed),
            Ident::new("ScaleGraphModel", call),
            Ident::new("ScaleGraphVars", call),
            Ident::new("ScaleGraphInputs", call),
            TokenStream::new(),
        ),
    };
    let g = Ident::new("__scale_graph", mixed);
    let b = Ident::new("__scale_builder", mixed);
    let p = Ident::new("__scale_pusher", mixed);
    let nd = quote!(#k::__private::ndarray);
    let rt = match &plan.runtime {
        RuntimeTy::F32 => quote!(::core::primitive::f32),
        RuntimeTy::F64 => quote!(::core::primitive::f64),
        RuntimeTy::Bf16 => quote!(#k::__private::half::bf16),
        RuntimeTy::F16 => quote!(#k::__private::half::f16),
        RuntimeTy::Param(id) => quote!(#id),
        RuntimeTy::Path(path) => quote!(#path),
    };

    // Generated items cannot see an enclosing function's generics: a runtime type parameter
    // and every const dimension become parameters of each item.
    let cps = const_params(plan);
    let tps: Vec<&Ident> = match &plan.runtime {
        RuntimeTy::Param(id) => vec![id],
        _ => Vec::new(),
    };
    let (gen_decl, gen_args) = if cps.is_empty() && tps.is_empty() {
        (quote!(), quote!())
    } else {
        (
            quote!(<#(#tps: #k::Runtime,)* #(const #cps: usize),*>),
            quote!(<#(#tps,)* #(#cps),*>),
        )
    };
    // The handles do not hold runtime values: their struct takes only the const dimensions.
    let (vars_decl, vars_args) = if cps.is_empty() {
        (quote!(), quote!())
    } else {
        (quote!(<#(const #cps: usize),*>), quote!(<#(#cps),*>))
    };

    let n_in = plan.inputs.len();
    let in_idents: Vec<Ident> = (0..n_in)
        .map(|i| Ident::new(&format!("__scale_in{i}"), mixed))
        .collect();
    let node_idents: Vec<Ident> = plan
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| Ident::new(&format!("__scale_n{i}"), mixed.located_at(n.op_span)))
        .collect();
    let entry_ident = |e: usize, at: Span| -> TokenStream {
        let name = if e < n_in {
            format!("__scale_in{e}")
        } else {
            format!("__scale_n{}", e - n_in)
        };
        let id = Ident::new(&name, mixed.located_at(at));
        quote!(#id)
    };

    let in_shapes: Vec<TokenStream> = plan
        .inputs
        .iter()
        .map(|i| shape_tokens(k, &i.shape))
        .collect();
    let node_shapes: Vec<TokenStream> =
        plan.nodes.iter().map(|n| shape_tokens(k, &n.out)).collect();
    let gamma = list_type(k, &in_shapes);
    let ss = list_type(k, &node_shapes);
    let pattern = vars_pattern(&in_idents);

    let allow = quote!(#[allow(
        dead_code,
        non_snake_case,
        non_camel_case_types,
        non_upper_case_globals,
        clippy::all
    )]);

    // Build: one nested `fn` per segment of 64 nodes pushes them through the builder's
    // `Pusher` and returns their `Part` (typed with the shapes the macro computed), whose
    // `vars()` are the segment's handles;
    // the parts are joined as a balanced tree and sealed once. Pushing through the `Pusher`,
    // whose type omits Γ and ss, keeps each push O(1) to check (naming the builder, whose type
    // holds ss, at every push made type checking quadratic); one small function per segment
    // keeps rustc's per-function work (type inference, borrow checking) from growing faster
    // than the graph (one function of N pushes measured ~2.3x per doubling of N).
    let pusher_ty = quote!(#k::Pusher<#k::graph::RevScale, #rt, #brand>);
    let turbofish = if gen_args.is_empty() {
        quote!()
    } else {
        quote!(::#gen_args)
    };
    // Where an entry is, seen from the enclosing block: an input's local, or a field of its
    // segment's handles.
    let entry_expr = |e: usize| -> TokenStream {
        if e < n_in {
            let id = Ident::new(&format!("__scale_in{e}"), mixed);
            quote!(#id)
        } else {
            let c = Ident::new(&format!("__scale_seg{}", (e - n_in) / SEGMENT), mixed);
            let i = Literal::usize_unsuffixed((e - n_in) % SEGMENT);
            quote!(#c.#i)
        }
    };
    let entry_shape = |e: usize| -> Option<&TokenStream> {
        if e < n_in {
            in_shapes.get(e)
        } else {
            node_shapes.get(e - n_in)
        }
    };
    let mut segments = TokenStream::new();
    let mut leaves: Vec<TokenStream> = Vec::new();
    for (seg, chunk) in plan.nodes.chunks(SEGMENT).enumerate() {
        let start = seg * SEGMENT;
        let mut pushes = TokenStream::new();
        let mut handles = Vec::new();
        let mut shapes = Vec::new();
        // Entries the segment reads from outside itself, in order of first use.
        let mut outside: Vec<usize> = Vec::new();
        for (j, node) in chunk.iter().enumerate() {
            let idx = start + j;
            let (Some(id), Some(shape)) = (node_idents.get(idx), node_shapes.get(idx)) else {
                continue;
            };
            for (e, _) in &node.args {
                if *e < n_in + start && !outside.contains(e) {
                    outside.push(*e);
                }
            }
            let op = Ident::new(node.op.ctor, node.op_span);
            let args = node.args.iter().map(|(e, at)| entry_ident(*e, *at));
            let params: Vec<TokenStream> = node
                .params
                .iter()
                .filter_map(|l| lit_tokens(k, l))
                .collect();
            let mut call = quote_spanned!(node.op_span=> #k::ops::#op(#(#args,)* #(#params,)*));
            let validates = node
                .params
                .iter()
                .any(|l| matches!(l.value, LitValue::Float(_) | LitValue::Int(_)));
            if validates {
                // Constructors with value literals (floats, integers) return a `Result`; the
                // literals were checked. Type-level literals cannot fail at run time.
                call = quote!(#k::__private::literal_node(#call));
            }
            // Only an op with a shape literal (`reshape`) needs its output type written at the
            // push (it picks the target shape); for the other ops rustc infers it, and the
            // segment's return type, written with the macro's shapes, ties the inferred shapes
            // to the macro's.
            // The same for type-level literals: `slice` and `concat` cannot compute their
            // output shape in stable Rust, so the push names it.
            let picks_type = node.params.iter().any(|l| {
                matches!(
                    l.value,
                    LitValue::Shape(_) | LitValue::Axis(_) | LitValue::Index(_) | LitValue::Ints(_)
                )
            });
            if picks_type {
                pushes.extend(quote! {
                    let #id: #k::Var<#shape, #brand> = #p.push(#call);
                });
            } else {
                pushes.extend(quote! { let #id = #p.push(#call); });
            }
            handles.push(id.clone());
            shapes.push(shape.clone());
        }
        let param_decls = outside.iter().map(|&e| {
            let id = entry_ident(e, Span::call_site());
            let shape = entry_shape(e);
            quote!(#id: #k::Var<#shape, #brand>)
        });
        let param_values = outside.iter().map(|&e| entry_expr(e));
        let f = Ident::new(&format!("__scale_segment{seg}"), mixed);
        let res = Ident::new(&format!("__scale_seg{seg}"), mixed);
        let part = Ident::new(&format!("__scale_part{seg}"), mixed);
        segments.extend(quote! {
            #allow
            fn #f #gen_decl(
                #p: &mut #pusher_ty,
                #(#param_decls),*
            ) -> #k::Part<#k::Seg<#k::Nil, (#(#shapes,)*)>, #brand> {
                #pushes
                #p.part((#(#handles,)*))
            }
            let #part = #f #turbofish(#p, #(#param_values),*);
            let #res = #part.vars();
        });
        leaves.push(quote!(#part));
    }
    let mut joins = TokenStream::new();
    let mut n_joins = 0usize;
    let root = tree(&leaves, &mut |leaf| leaf.clone(), &mut |l, r| {
        let id = Ident::new(&format!("__scale_join{n_joins}"), mixed);
        n_joins += 1;
        joins.extend(quote! { let #id = #l.join(#r); });
        quote!(#id)
    });
    let build = match root {
        Some(root) => quote! {
            let mut #b = #g.open();
            let #p = #b.pusher();
            #segments
            #joins
            let #g = #b.seal_part(#root);
        },
        // The checker rejects empty graphs; this keeps the expander total.
        None => TokenStream::new(),
    };

    let input_names: Vec<&Ident> = plan.inputs.iter().map(|i| &i.name).collect();
    let input_arrays: Vec<TokenStream> = plan
        .inputs
        .iter()
        .map(|InputPlan { shape, .. }| {
            let ix = ix_tokens(shape.len());
            quote!(#nd::Array<#rt, #nd::#ix>)
        })
        .collect();
    let input_dims: Vec<TokenStream> = in_shapes
        .iter()
        .map(|s| quote!(<#s as #k::Shape>::dim()))
        .collect();

    let input_positions = 0..in_shapes.len();

    let var_fields = plan.names.iter().map(|(name, e)| {
        let shape = if *e < n_in {
            in_shapes.get(*e)
        } else {
            node_shapes.get(*e - n_in)
        };
        let doc = if *e < n_in {
            format!("Handle of input `{name}`.")
        } else {
            format!("Handle of the value `{name}`.")
        };
        quote!(#[doc = #doc] pub #name: #k::Var<#shape, #brand>)
    });
    let var_values = plan.names.iter().map(|(name, e)| {
        let v = entry_expr(*e);
        quote!(#name: #v)
    });
    let input_docs = input_names
        .iter()
        .map(|n| format!("Value of input `{n}` (runtime scalars, fixed rank)."));

    let graph_ty = quote!(#k::RevGraphScale<#rt, #gamma, #ss, #brand>);
    let cert_ty = quote!(#k::Certificate<#rt, #gamma, #k::Concat<#gamma, #ss>>);
    let entry_names = entry_names(plan);
    let input_name_strs: Vec<String> = plan.inputs.iter().map(|i| i.name.to_string()).collect();

    let items = quote! {
        /// Brand of this graph: its handles cannot be used with another graph.
        #allow
        #[derive(Debug, Clone, Copy)]
        #vis struct #brand;

        /// A graph built by `scale_graph!`, with a handle for every name.
        #allow
        #vis struct #model #gen_decl {
            /// The typed graph.
            pub graph: #graph_ty,
            /// One handle per `input` and per `let`, by name.
            pub vars: #vars_ty #vars_args,
        }

        /// One handle per `input` and per `let` of the graph, by name.
        #allow
        #[derive(Clone, Copy)]
        #vis struct #vars_ty #vars_decl {
            #(#var_fields,)*
        }

        /// One array per `input` of the graph, by name.
        #allow
        #[derive(Debug, Clone)]
        #vis struct #inputs_ty #gen_decl {
            #(#[doc = #input_docs] pub #input_names: #input_arrays,)*
        }

        #allow
        impl #gen_decl #inputs_ty #gen_args {
            /// The inputs as the graph's input list `Γ`, checking every array's shape (an
            /// error names the input).
            pub fn to_tlist(&self) -> ::core::result::Result<#k::TList<#rt, #gamma>, #k::Error> {
                #k::TList::from_arrays(::std::vec![#(self.#input_names.clone().into_dyn(),)*])
                    .map_err(|e| e.named(&[#(#input_name_strs),*]))
            }

            /// Refills every input with standard normal entries (`randn`), reproducibly in
            /// `seed`; each input has its own stream (`random::input_rng(seed, position)`), so
            /// adding an input leaves the others' data unchanged.
            pub fn fill_random(&mut self, seed: u64) {
                #(self.#input_names = #k::random::gaussian(
                    &mut #k::random::input_rng(seed, #input_positions),
                    #input_dims,
                    1.0,
                );)*
            }
        }

        #allow
        impl #gen_decl #model #gen_args {
            /// Zero-filled inputs of the right shapes, one named field per `input`.
            pub fn zero_inputs(&self) -> #inputs_ty #gen_args {
                #inputs_ty { #(#input_names: #nd::Array::zeros(#input_dims),)* }
            }

            /// Inputs of the right shapes with standard normal entries, reproducible in `seed`
            /// (see `fill_random` on the inputs).
            pub fn random_inputs(&self, seed: u64) -> #inputs_ty #gen_args {
                let mut inputs = self.zero_inputs();
                inputs.fill_random(seed);
                inputs
            }

            /// Values, gradients of the scalar `loss`, and all their bounds for exact inputs
            /// (`eps = 0`), in one certified pass.
            pub fn certify(
                &self,
                inputs: &#inputs_ty #gen_args,
                loss: #k::Var<#k::Rank0, #brand>,
            ) -> ::core::result::Result<#cert_ty, #k::Error> {
                let all: ::std::vec::Vec<usize> = (0..self.graph.n_inputs()).collect();
                self.certify_wrt(inputs, loss, &all)
            }

            /// [`certify`](Self::certify), computing gradients only of the inputs at positions
            /// `wrt` (e.g. `&[m.vars.w.pos(), m.vars.b.pos()]`: the parameters, not the data);
            /// the other inputs' gradients are returned as zeros.
            pub fn certify_wrt(
                &self,
                inputs: &#inputs_ty #gen_args,
                loss: #k::Var<#k::Rank0, #brand>,
                wrt: &[usize],
            ) -> ::core::result::Result<#cert_ty, #k::Error> {
                let x = inputs.to_tlist()?;
                let (eps_in, b_in) = self.graph.exact_inputs(&x);
                let (seed, eps_seed, b_seed) = self.graph.loss_seed(loss);
                ::core::result::Result::Ok(
                    self.graph.certify_wrt(x, &eps_in, &b_in, &seed, &eps_seed, &b_seed, wrt),
                )
            }

            /// Overwrites every input of `inputs` with its entry of `list` (e.g. the updated
            /// parameters of a training step).
            pub fn set_inputs(
                &self,
                inputs: &mut #inputs_ty #gen_args,
                list: &#k::TList<#rt, #gamma>,
            ) {
                #(inputs.#input_names = list.get(self.vars.#input_names).to_owned();)*
            }

            /// The name of every entry of `Γ ++ ss`, in order: the inputs, then one per node
            /// (a `let`'s name, or the expression of a nested node, e.g. `matvec(w1, x)`).
            pub fn names(&self) -> &'static [&'static str] {
                &[#(#entry_names),*]
            }

            /// The report of a certified pass of this model (table, JSON, DOT), every row
            /// named by [`names`](Self::names).
            pub fn report(&self, cert: &#cert_ty) -> #k::report::Report {
                #k::__private::named_report(&self.graph, cert, self.names())
            }
        }

        // Delegates to the inherent methods, which callers reach without importing the trait.
        #allow
        impl #gen_decl #k::Model for #model #gen_args {
            type Runtime = #rt;
            type Brand = #brand;
            type Gamma = #gamma;
            type Nodes = #ss;
            type Entries = #k::Concat<#gamma, #ss>;
            type Inputs = #inputs_ty #gen_args;
            type Vars = #vars_ty #vars_args;

            fn graph(&self) -> &#graph_ty {
                &self.graph
            }
            fn vars(&self) -> &Self::Vars {
                &self.vars
            }
            fn zero_inputs(&self) -> Self::Inputs {
                #model::zero_inputs(self)
            }
            fn random_inputs(&self, seed: u64) -> Self::Inputs {
                #model::random_inputs(self, seed)
            }
            fn certify(
                &self,
                inputs: &Self::Inputs,
                loss: #k::Var<#k::Rank0, #brand>,
            ) -> ::core::result::Result<#cert_ty, #k::Error> {
                #model::certify(self, inputs, loss)
            }
            fn certify_wrt(
                &self,
                inputs: &Self::Inputs,
                loss: #k::Var<#k::Rank0, #brand>,
                wrt: &[usize],
            ) -> ::core::result::Result<#cert_ty, #k::Error> {
                #model::certify_wrt(self, inputs, loss, wrt)
            }
            fn names(&self) -> &'static [&'static str] {
                #model::names(self)
            }
            fn input_list(
                &self,
                inputs: &Self::Inputs,
            ) -> ::core::result::Result<#k::TList<#rt, #gamma>, #k::Error> {
                inputs.to_tlist()
            }
            fn set_inputs(&self, inputs: &mut Self::Inputs, list: &#k::TList<#rt, #gamma>) {
                #model::set_inputs(self, inputs, list)
            }
            fn report(&self, cert: &#cert_ty) -> #k::report::Report {
                #model::report(self, cert)
            }
        }
    };
    let body = quote! {
        let (#g, #pattern) = #k::RevGraphScale::<#rt, #gamma, #k::Nil, #brand>::nil(#brand);
        #build
        #model {
            graph: #g,
            vars: #vars_ty { #(#var_values,)* },
        }
    };
    match &plan.model {
        None => quote! {{ #items #body }},
        Some(_) => quote! {
            #items

            #allow
            impl #gen_decl #model #gen_args {
                /// Build the graph (the same graph, and brand, on every call).
                pub fn new() -> Self {
                    #body
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(ts: TokenStream) -> String {
        expand(&crate::compile(ts).unwrap()).to_string()
    }

    #[test]
    fn segments_of_64() {
        let mut body = quote! { input x: [4]; };
        for i in 0..130usize {
            let prev = if i == 0 {
                format_ident!("x")
            } else {
                format_ident!("v{}", i - 1)
            };
            let v = format_ident!("v{i}");
            body.extend(quote! { let #v = relu(#prev); });
        }
        let s = expand_str(body);
        assert_eq!(s.matches(". open ()").count(), 1);
        assert_eq!(s.matches("fn __scale_segment").count(), 3);
        assert_eq!(s.matches(". part (").count(), 3);
        assert_eq!(s.matches(". join (").count(), 2);
        assert_eq!(s.matches(". seal_part (").count(), 1);
        assert_eq!(s.matches(". push (").count(), 130);
        // Three leaves (64, 64, 2 nodes), the left half taking the odd one.
        assert!(s.contains("let __scale_join0 = __scale_part0 . join (__scale_part1)"));
        assert!(s.contains("let __scale_join1 = __scale_join0 . join (__scale_part2)"));
        // Segment 1 reads node 63 of segment 0 (its only outside entry).
        assert!(
            s.contains("__scale_segment1 (__scale_pusher , __scale_seg0 . 63)"),
            "{s}"
        );
        assert!(s.contains("RevGraphScale < :: core :: primitive :: f32"));
    }

    #[test]
    fn tree_type_and_pattern_agree() {
        let k = quote!(K);
        let shapes: Vec<TokenStream> = (0..5 * SEGMENT).map(|_| quote!(S)).collect();
        let t = list_type(&k, &shapes).to_string();
        // Five leaves: ((0 1 2) (3 4)), then ((0 1) 2).
        let leaf = format!(
            "K :: Seg < K :: Nil , ({}) >",
            "S , ".repeat(SEGMENT).trim_end()
        );
        let want = format!(
            "K :: Seg < K :: Seg < K :: Seg < {leaf} , {leaf} > , {leaf} > , \
             K :: Seg < {leaf} , {leaf} > >"
        );
        assert_eq!(t, want);
        let ids: Vec<Ident> = (0..2 * SEGMENT + 1)
            .map(|i| format_ident!("v{i}"))
            .collect();
        let pat = vars_pattern(&ids).to_string();
        assert!(pat.starts_with("(((v0 , "), "{pat}");
        assert!(pat.ends_with(", v127 ,)) , (v128 ,))"), "{pat}");
        assert_eq!(list_type(&k, &[]).to_string(), "K :: Nil");
        assert_eq!(vars_pattern(&[]).to_string(), "()");
    }

    #[test]
    fn generics_runtime_and_params() {
        let s = expand_str(quote! {
            runtime = f64;
            input a: [H, 3];
            let b = scale(a, -0.5) * a;
        });
        assert!(s.contains("const H : usize"), "{s}");
        assert!(s.contains("ops :: scale"));
        assert!(s.contains("- 0.5f64"));
        assert!(s.contains(":: core :: primitive :: f64"));
    }

    #[test]
    fn crate_path_is_used() {
        let s = expand_str(quote! { @crate ::facade; input a: [2]; let b = relu(a); });
        assert!(s.contains(":: facade :: ops :: relu"));
        assert!(!s.contains("scale_core"));
    }

    #[test]
    fn runtime_type_parameter_and_path() {
        let s = expand_str(quote! { runtime = R; input a: [H]; let b = relu(a); });
        // `R` is a parameter of every item that holds runtime values, before the consts.
        assert!(
            s.contains("struct ScaleGraphModel < R : :: scale_core :: Runtime , const H : usize >"),
            "{s}"
        );
        assert!(
            s.contains("struct ScaleGraphVars < const H : usize >"),
            "{s}"
        );
        assert!(s.contains("__scale_segment0 :: < R , H >"), "{s}");
        let s = expand_str(quote! { runtime = half::bf16; input a: [2]; let b = relu(a); });
        assert!(s.contains("RevGraphScale < half :: bf16"), "{s}");
        assert!(!s.contains("< R"), "{s}");
    }

    #[test]
    fn model_header_emits_items() {
        let s = expand_str(quote! { pub model Mlp; input x: [2]; let y = relu(x); });
        assert!(s.starts_with("# [doc"), "items, not a block: {s}");
        for item in [
            "pub struct MlpBrand",
            "pub struct Mlp {",
            "pub struct MlpVars",
            "pub struct MlpInputs",
        ] {
            assert!(s.contains(item), "{item}: {s}");
        }
        assert!(s.contains("impl :: scale_core :: Model for Mlp"), "{s}");
        assert!(s.contains("pub fn new () -> Self"), "{s}");
        // Without a header: a block, the brand named after the first binding.
        let s = expand_str(quote! { input x: [2]; let y = relu(x); });
        assert!(s.starts_with("{"), "{s}");
        assert!(s.contains("struct Brand_of_x"), "{s}");
    }

    #[test]
    fn errors_do_not_diverge() {
        let s = crate::run(quote! { input x: [2]; let y = relu(z); let w = q; }).to_string();
        assert!(!s.contains("loop"), "{s}");
        // The last error is the block's value, in parentheses (an expression).
        assert_eq!(s.matches("compile_error").count(), 2, "{s}");
        assert!(s.trim_end().ends_with(") }"), "{s}");
        let s = crate::run(quote! { model M; input x: [2]; let y = relu(z); }).to_string();
        assert!(!s.starts_with("{"), "items for an item macro: {s}");
    }
}
