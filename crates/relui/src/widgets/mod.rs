//! Small editing widgets used by dialogs and the filter line.

pub mod columns;
pub mod filter;
pub mod textarea;
pub mod textinput;

pub use filter::{FilterOutcome, ListFilter, match_count, title_width};
pub use textarea::TextArea;
pub use textinput::TextInput;
