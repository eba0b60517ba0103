//! The full-screen views. Each owns its UI state (selection, scroll, filter) and renders
//! from `&self`.

pub mod detail;
pub mod environments;
pub mod logs;
pub mod releases;

pub use detail::DetailScreen;
pub use environments::EnvironmentsScreen;
pub use logs::LogsScreen;
pub use releases::ReleasesScreen;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Releases,
    Environments,
    Logs,
}

impl Screen {
    pub fn next(self) -> Screen {
        match self {
            Screen::Releases => Screen::Environments,
            Screen::Environments => Screen::Logs,
            Screen::Logs => Screen::Releases,
        }
    }
}
