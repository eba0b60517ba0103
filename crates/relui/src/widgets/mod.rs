//! Small editing widgets used by dialogs and the filter line.

pub mod textarea;
pub mod textinput;

pub use textarea::TextArea;
pub use textinput::TextInput;
