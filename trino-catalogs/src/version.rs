//! The Trino release a cluster runs, which decides the property names that are rendered for it.
//!
//! Trino renames and removes configuration properties between releases, and a node refuses to start on a
//! property it does not know ("Configuration property '...' was not used"). Rendering therefore always names
//! the release it renders for. The differences this crate knows about are listed where they are used
//! ([`crate::render::FS_S3_ENABLED_SINCE`]) and collected, with their sources, in `trino-ecs-core`'s
//! `render::VERSION_DIFFERENCES` and `docs/trino-versions.md`.

use std::fmt;

/// A Trino release number, such as `476`. Trino numbers its releases with one integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrinoVersion(pub u32);

impl TrinoVersion {
    /// The oldest release this project renders for: the one whose rendered files were proven on a real
    /// server (Trino 476, the newest release published to Maven Central).
    pub const OLDEST_SUPPORTED: TrinoVersion = TrinoVersion(476);
    /// The newest release this project renders for: every difference up to it was checked against Trino's
    /// source, but only [`TrinoVersion::OLDEST_SUPPORTED`] ran on a real server.
    pub const NEWEST_SUPPORTED: TrinoVersion = TrinoVersion(481);

    /// Whether this project knows how to render configuration for this release.
    pub fn is_supported(self) -> bool {
        (Self::OLDEST_SUPPORTED..=Self::NEWEST_SUPPORTED).contains(&self)
    }

    /// The release number.
    pub fn number(self) -> u32 {
        self.0
    }
}

impl fmt::Display for TrinoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_range_is_inclusive() {
        assert!(!TrinoVersion(475).is_supported());
        assert!(TrinoVersion(476).is_supported());
        assert!(TrinoVersion(481).is_supported());
        assert!(!TrinoVersion(482).is_supported());
        assert_eq!(TrinoVersion(480).to_string(), "480");
    }
}
