//! Engine API versions: parsing, negotiation and recognising a "wrong version" refusal.
//!
//! The agent asks `GET /_ping` for the engine's newest version (`Api-Version` header), speaks
//! `min(engine, AGENT_MAX)`, refuses engines whose newest version is below [`AGENT_MIN`], and assumes
//! [`AGENT_MIN`] when the engine names no version at all. Docker answers a path version outside its
//! range with HTTP 400 and a message saying "too old" or "too new" (usually naming the bound);
//! [`version_rejection`] recognises that message and [`renegotiate`] turns it into the version to retry
//! with. Podman never refuses a version. Everything here is pure and cannot panic.

use std::fmt;

use super::json::{from_slice, DocError, Object, Text};

pub use crate::http::ApiVersion;

/// The newest API version this agent speaks. It is at least 1.52 so that the agent runs with the event
/// shape that has no legacy `status`/`id`/`from` fields.
pub const AGENT_MAX: ApiVersion = ApiVersion::new(1, 52);
/// The oldest API version this agent speaks, and the version assumed when the engine names none.
pub const AGENT_MIN: ApiVersion = ApiVersion::new(1, 24);

/// How much of an error body is searched for the refusal message.
const REJECTION_SCAN_MAX: usize = 4096;

/// Why no common API version exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionError {
    /// The engine's newest version is older than [`AGENT_MIN`].
    EngineTooOld,
    /// The engine's oldest accepted version is newer than [`AGENT_MAX`].
    EngineTooNew,
}

impl VersionError {
    /// A static description of the error.
    pub const fn message(self) -> &'static str {
        match self {
            VersionError::EngineTooOld => {
                "engine API is older than the oldest version this agent speaks"
            }
            VersionError::EngineTooNew => {
                "engine API no longer accepts the newest version this agent speaks"
            }
        }
    }
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for VersionError {}

/// Picks the version to speak from the engine's newest version (`None` when the engine sent no
/// `Api-Version`): `min(server, AGENT_MAX)`, refused below [`AGENT_MIN`]; no header gives [`AGENT_MIN`].
pub fn negotiate(server: Option<ApiVersion>) -> Result<ApiVersion, VersionError> {
    let Some(server) = server else {
        return Ok(AGENT_MIN);
    };
    let chosen = server.min(AGENT_MAX);
    if chosen < AGENT_MIN {
        Err(VersionError::EngineTooOld)
    } else {
        Ok(chosen)
    }
}

/// The engine refused the version in the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRejection {
    /// The requested version is below the engine's minimum (named when the message says it).
    TooOld {
        /// "Minimum supported API version is X".
        minimum: Option<ApiVersion>,
    },
    /// The requested version is above the engine's maximum (named when the message says it).
    TooNew {
        /// "Maximum supported API version is N" (or, from daemons before 1.13,
        /// "server API version: N").
        maximum: Option<ApiVersion>,
    },
}

/// Recognises a refusal of the path version: status 400 with a message containing "too old" or
/// "too new" (or the pre-1.13 "client is newer than server"). The message is read from the JSON
/// `{"message": …}` body, or from the raw body when it is not JSON; only the first 4 KiB are searched.
/// Any other response gives `None`.
pub fn version_rejection(status: u16, body: &[u8]) -> Option<VersionRejection> {
    if status != 400 {
        return None;
    }
    let body = body.get(..REJECTION_SCAN_MAX).unwrap_or(body);
    let from_json = error_message(body).ok().flatten();
    let lossy;
    let message: &str = match &from_json {
        Some(text) => text.as_str(),
        None => {
            lossy = String::from_utf8_lossy(body);
            &lossy
        }
    };
    if message.contains("too old") {
        Some(VersionRejection::TooOld {
            minimum: version_after(message, "Minimum supported API version is "),
        })
    } else if message.contains("too new") {
        Some(VersionRejection::TooNew {
            maximum: version_after(message, "Maximum supported API version is "),
        })
    } else if message.contains("client is newer than server") {
        Some(VersionRejection::TooNew {
            maximum: version_after(message, "server API version: "),
        })
    } else {
        None
    }
}

/// The `message` of a JSON error body `{"message": …}`.
fn error_message(body: &[u8]) -> Result<Option<Text<'_>>, DocError> {
    #[derive(serde::Deserialize)]
    struct ErrorBody<'a> {
        #[serde(borrow)]
        message: Option<Text<'a>>,
    }
    let Object(body): Object<ErrorBody<'_>> = from_slice(body)?;
    Ok(body.message)
}

/// The version written right after `prefix` in `message`, if any.
fn version_after(message: &str, prefix: &str) -> Option<ApiVersion> {
    let start = message.find(prefix)? + prefix.len();
    let rest = message.get(start..)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    // "is 1.43." at the end of a sentence: drop the full stop.
    ApiVersion::parse(rest.get(..end)?.trim_end_matches('.').as_bytes())
}

/// The version to retry with after `rejection` of the version `tried`.
///
/// `Ok(Some(v))`: retry with `v`. `Ok(None)`: the message named no usable bound (or one that
/// contradicts `tried`), so ping again and [`negotiate`] afresh. `Err`: no version both sides speak.
/// The result never equals `tried`, so retrying cannot loop on the same refusal.
pub fn renegotiate(
    rejection: VersionRejection,
    tried: ApiVersion,
) -> Result<Option<ApiVersion>, VersionError> {
    match rejection {
        VersionRejection::TooOld {
            minimum: Some(minimum),
        } if minimum > tried => {
            if minimum > AGENT_MAX {
                Err(VersionError::EngineTooNew)
            } else {
                Ok(Some(minimum.max(AGENT_MIN)))
            }
        }
        VersionRejection::TooNew {
            maximum: Some(maximum),
        } if maximum < tried => negotiate(Some(maximum)).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u16, minor: u16) -> ApiVersion {
        ApiVersion::new(major, minor)
    }

    #[test]
    fn parses_versions() {
        assert_eq!(ApiVersion::parse(b"1.41"), Some(v(1, 41)));
        assert_eq!(ApiVersion::parse(b"1.041"), Some(v(1, 41)));
        assert_eq!(ApiVersion::parse(b"1.24"), Some(v(1, 24)));
        for bad in [
            "",
            "1",
            "1.",
            ".41",
            "1.41.2",
            "1.4a",
            "+1.41",
            "-1.41",
            "1.65536",
            "v1.41",
            "1 .41",
            "00000000000000001.41",
        ] {
            assert_eq!(ApiVersion::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(ApiVersion::parse(b"1.\xff"), None);
    }

    #[test]
    fn orders_and_displays() {
        assert!(v(1, 9) < v(1, 10));
        assert!(v(1, 52) < v(2, 0));
        assert_eq!(v(1, 44).to_string(), "1.44");
    }

    #[test]
    fn negotiates() {
        assert_eq!(negotiate(None), Ok(AGENT_MIN));
        assert_eq!(negotiate(Some(v(1, 41))), Ok(v(1, 41))); // Docker 20.10, Podman 4.2+
        assert_eq!(negotiate(Some(v(1, 52))), Ok(v(1, 52)));
        assert_eq!(negotiate(Some(v(1, 56))), Ok(AGENT_MAX)); // newer engine
        assert_eq!(negotiate(Some(v(2, 0))), Ok(AGENT_MAX));
        assert_eq!(negotiate(Some(v(1, 24))), Ok(v(1, 24)));
        assert_eq!(negotiate(Some(v(1, 23))), Err(VersionError::EngineTooOld));
        assert_eq!(negotiate(Some(v(0, 99))), Err(VersionError::EngineTooOld));
    }

    #[test]
    fn recognises_docker_too_old() {
        let body = br#"{"message":"client version 1.24 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version"}"#;
        let rejection = version_rejection(400, body);
        assert_eq!(
            rejection,
            Some(VersionRejection::TooOld {
                minimum: Some(v(1, 44))
            })
        );
        assert_eq!(
            renegotiate(rejection.unwrap(), v(1, 24)),
            Ok(Some(v(1, 44)))
        );
    }

    #[test]
    fn recognises_docker_too_new() {
        let body =
            b"{\"message\":\"client version 1.52 is too new. Maximum supported API version is 1.43\"}\n";
        let rejection = version_rejection(400, body).unwrap();
        assert_eq!(
            rejection,
            VersionRejection::TooNew {
                maximum: Some(v(1, 43))
            }
        );
        assert_eq!(renegotiate(rejection, v(1, 52)), Ok(Some(v(1, 43))));
        // A maximum below what the agent speaks.
        let old = VersionRejection::TooNew {
            maximum: Some(v(1, 20)),
        };
        assert_eq!(renegotiate(old, v(1, 24)), Err(VersionError::EngineTooOld));
    }

    #[test]
    fn recognises_plain_text_and_pre_1_13_messages() {
        let body = b"client version 1.52 is too new. Maximum supported API version is 1.40.";
        assert_eq!(
            version_rejection(400, body),
            Some(VersionRejection::TooNew {
                maximum: Some(v(1, 40))
            })
        );
        let body =
            b"client is newer than server (client API version: 1.24, server API version: 1.23)";
        assert_eq!(
            version_rejection(400, body),
            Some(VersionRejection::TooNew {
                maximum: Some(v(1, 23))
            })
        );
    }

    #[test]
    fn a_message_without_a_bound_asks_for_a_new_ping() {
        let body = br#"{"message":"client version 1.24 is too old"}"#;
        let rejection = version_rejection(400, body).unwrap();
        assert_eq!(rejection, VersionRejection::TooOld { minimum: None });
        assert_eq!(renegotiate(rejection, v(1, 24)), Ok(None));
    }

    #[test]
    fn contradictory_or_unreachable_bounds() {
        // "too old" with a minimum at or below what was tried: do not retry the same version.
        let same = VersionRejection::TooOld {
            minimum: Some(v(1, 24)),
        };
        assert_eq!(renegotiate(same, v(1, 24)), Ok(None));
        let same = VersionRejection::TooNew {
            maximum: Some(v(1, 44)),
        };
        assert_eq!(renegotiate(same, v(1, 44)), Ok(None));
        // A minimum above everything this agent speaks.
        let future = VersionRejection::TooOld {
            minimum: Some(v(1, 60)),
        };
        assert_eq!(
            renegotiate(future, v(1, 52)),
            Err(VersionError::EngineTooNew)
        );
    }

    #[test]
    fn ignores_other_responses() {
        assert_eq!(
            version_rejection(200, b"client version 1.24 is too old"),
            None
        );
        assert_eq!(version_rejection(404, br#"{"message":"too old"}"#), None);
        assert_eq!(version_rejection(400, br#"{"message":"bad filter"}"#), None);
        assert_eq!(version_rejection(400, b""), None);
        assert_eq!(version_rejection(400, b"\xff\xfe{{{"), None);
        // A hostile version number in the message.
        let body = br#"{"message":"too old. Minimum supported API version is 1.99999999"}"#;
        assert_eq!(
            version_rejection(400, body),
            Some(VersionRejection::TooOld { minimum: None })
        );
    }
}
