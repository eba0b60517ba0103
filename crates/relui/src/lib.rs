//! relui: the keyboard-driven terminal UI over `releasd` (SPEC §4.4).
//!
//! Architecture: one event loop ([`runtime`]) is fed by terminal input, daemon events and RPC
//! results, all as [`Msg`]s. [`App::update`] changes state and returns [`Command`]s (RPCs to
//! run); [`App::render`] only reads. Each screen and dialog is a component owning its UI
//! state. The loop is generic over the ratatui `Backend`, so tests drive it with
//! `TestBackend`.

pub mod app;
pub mod ascii;
pub mod cli;
pub mod clipboard;
pub mod daemon;
pub mod dialogs;
pub mod gov;
pub mod keys;
pub mod layout;
pub mod msg;
pub mod order;
pub mod render;
pub mod runtime;
pub mod screens;
pub mod text;
pub mod theme;
pub mod widgets;

pub use app::App;
pub use msg::{Command, Msg, Purpose};
pub use theme::Theme;
