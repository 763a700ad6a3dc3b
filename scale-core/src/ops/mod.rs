//! The ops of SPEC §9, one file per family. Each op is a node type with all six parts (SPEC §4)
//! and a constructor function that takes handles and checks shapes through its signature.
//!
//! | family | ops |
//! |---|---|
//! | [`elementwise`] | `add`, `mul`, `relu` |
//! | [`linalg`] | `matvec` |
//! | [`reduce`] | `sum` |

pub mod elementwise;
pub mod linalg;
pub mod reduce;
pub mod util;

pub use elementwise::{add, mul, relu};
pub use linalg::matvec;
pub use reduce::sum;

/// Implements [`NodeType`](crate::node::NodeType) for an op struct `Name<…, B>`.
macro_rules! node_type {
    ($name:ident <$($g:ident),*> => $out:ty) => {
        impl<$($g: $crate::shape::Shape,)* Br> $crate::node::NodeType for $name<$($g,)* Br> {
            type Out = $out;
            type Brand = Br;
        }
    };
}
pub(crate) use node_type;
