//! The full-screen views. Each owns its UI state (selection, scroll, filter) and renders
//! from `&self`.

pub mod detail;
pub mod environments;
pub mod logs;
pub mod releases;
pub mod requests;

pub use detail::DetailScreen;
pub use environments::EnvironmentsScreen;
pub use logs::LogsScreen;
pub use releases::ReleasesScreen;
pub use requests::RequestsScreen;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Releases,
    Environments,
    Logs,
    /// Change requests waiting for approvals or their time (issue 11).
    Requests,
}

impl Screen {
    pub fn next(self) -> Screen {
        match self {
            Screen::Releases => Screen::Environments,
            Screen::Environments => Screen::Logs,
            Screen::Logs => Screen::Requests,
            Screen::Requests => Screen::Releases,
        }
    }
}
