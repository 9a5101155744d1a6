//! Bindings generated from `wit/` by wit-bindgen. Not part of the SDK's API: plugin code uses the
//! traits and macros at the crate root; the export macros reach in here.

#![allow(missing_docs, unsafe_code, clippy::all)]

/// The `aggregator` world.
pub mod aggregator {
    wit_bindgen::generate!({
        path: "../wit",
        world: "aggregator",
        pub_export_macro: true,
        export_macro_name: "export_aggregator_world",
        default_bindings_module: "eddy_sdk::__private::bindings::aggregator",
        runtime_path: "eddy_sdk::__private::wit_bindgen::rt",
    });
}

/// The `transform` world.
pub mod transform {
    wit_bindgen::generate!({
        path: "../wit",
        world: "transform",
        pub_export_macro: true,
        export_macro_name: "export_transform_world",
        default_bindings_module: "eddy_sdk::__private::bindings::transform",
        runtime_path: "eddy_sdk::__private::wit_bindgen::rt",
    });
}

/// The `column-transform` world.
pub mod columns {
    wit_bindgen::generate!({
        path: "../wit",
        world: "column-transform",
        pub_export_macro: true,
        export_macro_name: "export_column_transform_world",
        default_bindings_module: "eddy_sdk::__private::bindings::columns",
        runtime_path: "eddy_sdk::__private::wit_bindgen::rt",
    });
}
