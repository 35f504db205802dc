//! Revision tokens: a replica's revision number with the replica's epoch (a random number
//! drawn when its inventory starts), so a revision from another replica, or from before a
//! restart, is recognised and refused instead of silently resuming the wrong history.

use crate::error::Error;

/// The token of revision `number` of the view whose epoch is `epoch`.
pub fn token(epoch: u32, number: u64) -> String {
    format!("{epoch:08x}.{number}")
}

/// The revision number `token` names: INVALID_ARGUMENT when it is not a revision token,
/// OUT_OF_RANGE (REVISION_EXPIRED) when it is another view's.
pub fn parse(token: &str, epoch: u32) -> Result<u64, Error> {
    let invalid = || {
        Error::invalid_field(
            "revision",
            "not a revision this service issued: send back a message's revision, or none to list",
        )
    };
    let (issued_by, number) = token.split_once('.').ok_or_else(invalid)?;
    let issued_by = u32::from_str_radix(issued_by, 16).map_err(|_| invalid())?;
    let number: u64 = number.parse().map_err(|_| invalid())?;
    if issued_by != epoch {
        return Err(Error::RevisionExpired {
            revision: token.to_owned(),
            detail: "it was issued by another replica, or before this one restarted".to_owned(),
        });
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_name_their_view() {
        assert_eq!(parse(&token(7, 42), 7).unwrap(), 42);
        let other = parse(&token(8, 42), 7).unwrap_err();
        assert!(matches!(other, Error::RevisionExpired { .. }));
        for bad in ["", "42", "zz.1", "00000007.x"] {
            assert!(
                matches!(parse(bad, 7), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
    }
}
