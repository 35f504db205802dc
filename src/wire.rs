//! Protobuf messages written by hand where the generated ones would cost a decode and a
//! re-encode. `build.rs` maps their names here (`extern_path`), and `pb` re-exports them, so
//! the rest of the code (and every client generated from `proto/`) sees the usual shapes.

use crate::pb;
use prost::bytes::{Buf, BufMut, Bytes};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};

/// `ec2.v1.DescribeInstancesResponse` and `ec2.v1.DescribeInstancesStreamResponse` (see
/// `ec2_service.proto`; the same fields under the same numbers): the generated shape, plus
/// `encoded_reservations`, reservations already encoded (the instance view keeps them so),
/// which go on the wire as they are, as more entries of field 1 (`reservations`). A decoded
/// message has them all in `reservations`.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct ReservationPage {
    /// Reservations with their instances (field 1).
    pub reservations: Vec<pb::Reservation>,
    /// Further reservations, each already an encoded `Reservation` (sent as field 1 too).
    pub encoded_reservations: Vec<Bytes>,
    /// Resumes the stream right after this message (field 2).
    pub next_token: String,
    /// The dry run found the call permitted (field 3).
    pub dry_run_succeeded: bool,
    /// Set when the instance view answered: how old it was (field 4).
    pub staleness: Option<prost_types::Duration>,
}

impl Message for ReservationPage {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for reservation in &self.reservations {
            encoding::message::encode(1, reservation, buf);
        }
        for reservation in &self.encoded_reservations {
            // A length-delimited field carries a message and bytes alike.
            encoding::bytes::encode(1, reservation, buf);
        }
        if !self.next_token.is_empty() {
            encoding::string::encode(2, &self.next_token, buf);
        }
        if self.dry_run_succeeded {
            encoding::bool::encode(3, &self.dry_run_succeeded, buf);
        }
        if let Some(staleness) = &self.staleness {
            encoding::message::encode(4, staleness, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::message::merge_repeated(wire_type, &mut self.reservations, buf, ctx),
            2 => encoding::string::merge(wire_type, &mut self.next_token, buf, ctx),
            3 => encoding::bool::merge(wire_type, &mut self.dry_run_succeeded, buf, ctx),
            4 => encoding::message::merge(
                wire_type,
                self.staleness.get_or_insert_with(Default::default),
                buf,
                ctx,
            ),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        encoding::message::encoded_len_repeated(1, &self.reservations)
            + encoding::bytes::encoded_len_repeated(1, &self.encoded_reservations)
            + if self.next_token.is_empty() {
                0
            } else {
                encoding::string::encoded_len(2, &self.next_token)
            }
            + if self.dry_run_succeeded {
                encoding::bool::encoded_len(3, &self.dry_run_succeeded)
            } else {
                0
            }
            + self
                .staleness
                .as_ref()
                .map_or(0, |s| encoding::message::encoded_len(4, s))
    }

    fn clear(&mut self) {
        *self = ReservationPage::default();
    }
}

/// `ec2.v1.DescribeInstancesResponse`, a `ReservationPage`.
pub type DescribeInstancesResponse = ReservationPage;

/// `ec2.v1.DescribeInstancesStreamResponse`, a `ReservationPage`.
pub type DescribeInstancesStreamResponse = ReservationPage;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_reservations_decode_as_reservations() {
        let reservation = |id: &str| pb::Reservation {
            reservation_id: id.into(),
            instances: vec![pb::Instance {
                instance_id: format!("i-{id}"),
                ..Default::default()
            }],
            ..Default::default()
        };
        let sent = DescribeInstancesStreamResponse {
            reservations: vec![reservation("r-1")],
            encoded_reservations: vec![Bytes::from(reservation("r-2").encode_to_vec())],
            next_token: "t".into(),
            staleness: Some(prost_types::Duration {
                seconds: 3,
                nanos: 0,
            }),
            ..Default::default()
        };
        let bytes = sent.encode_to_vec();
        assert_eq!(bytes.len(), sent.encoded_len());
        let received = DescribeInstancesStreamResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(
            received.reservations,
            vec![reservation("r-1"), reservation("r-2")]
        );
        assert!(received.encoded_reservations.is_empty());
        assert_eq!(
            (received.next_token.as_str(), received.staleness),
            ("t", sent.staleness)
        );
    }
}
