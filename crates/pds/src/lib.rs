//! The Aerie Personal Data Server.
//!
//! `config` turns flags and `PDS_*` environment variables into a [`Config`]; the server
//! (added step by step) runs the com.atproto XRPC routes on top of `aerie-store` and
//! `aerie-xrpc`.

#![deny(missing_docs)]

pub mod config;
mod error;

pub use config::{Config, ConfigArgs};
pub use error::Error;
