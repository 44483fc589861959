//! VRRPv2 (RFC 3768) and VRRPv3 (RFC 9568) advertisements: encode and decode.
//!
//! Owns: the wire layout, the checksum rules (including the v3-over-IPv4 pseudo-header
//! ambiguity), and every reason a received packet is rejected. Must not do I/O, read a
//! clock, log, or panic on any input: a decode of hostile bytes returns a `Reject`.
//!
//! The bytes handled here are the VRRP message alone; the IP header is the socket
//! edge's business (it reports TTL and addresses in [`RecvMeta`]). Layout:
//!
//! ```text
//!  0        4        8       16       24       32
//! |version | type=1 |  VRID  |priority| count  |
//! | v2: auth type  | adv secs|     checksum    |
//! | v3: rsvd | max adver int (12 bits, cs) | checksum |
//! | count addresses (4 bytes each; v3 over IPv6: 16)  |
//! | v2 only: 8 bytes auth data (password or zeros)    |
//! ```
//!
//! Decoding never indexes out of bounds: fields come from slice patterns and `get`, and
//! every length is checked against the address count before anything is read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::timers::Centisecs;

/// IP protocol number of VRRP.
pub const IP_PROTO_VRRP: u8 = 112;
/// The TTL / hop limit every advertisement is sent with and must be received with.
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP.
pub const VRRP_GROUP_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP.
pub const VRRP_GROUP_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// Protocol version of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: IPv4 only, interval in seconds, optional text password.
    V2,
    /// RFC 9568: IPv4 or IPv6, interval in centiseconds, no authentication.
    V3,
}

/// Address family of a virtual router (all its addresses are of one family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// What the checksum of a VRRPv3-over-IPv4 advertisement covers.
///
/// RFC 9568 says the pseudo-header is included; keepalived and FRR include it, some
/// vendors do not. For v2 the checksum never covers a pseudo-header and for v3 over IPv6
/// it always does; there the form is fixed and decode reports that fixed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumForm {
    /// IPv4/IPv6 pseudo-header (src, dst, zero, protocol 112, length) + VRRP message.
    WithPseudoHeader,
    /// The VRRP message alone.
    WithoutPseudoHeader,
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). Ignored (and encoded as zeros) for v3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth type 0; the 8 auth bytes are zero.
    None,
    /// Auth type 1; the password NUL-padded to 8 bytes.
    Password([u8; 8]),
}

impl Auth {
    /// A simple-text password, NUL-padded; `None` if longer than 8 bytes or empty.
    pub fn password(text: &str) -> Option<Auth> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.len() > 8 {
            return None;
        }
        let mut data = [0u8; 8];
        data[..bytes.len()].copy_from_slice(bytes);
        Some(Auth::Password(data))
    }
}

/// A VRRP advertisement, independent of version where the two agree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advertisement {
    pub version: Version,
    pub vrid: u8,
    /// 0 = the master is leaving; 255 = address owner.
    pub priority: u8,
    /// Max advertisement interval. For v2 always a whole number of seconds.
    pub interval: Centisecs,
    /// The virtual addresses, all of one family (v2: IPv4 only).
    pub addresses: Vec<IpAddr>,
    /// v2 only; `Auth::None` for v3.
    pub auth: Auth,
}

/// What the kernel tells us about a received packet, besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// Source address of the IP packet (the sender's primary address).
    pub src: IpAddr,
    /// Destination address (the group, or our address in unicast mode).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Interface index the packet arrived on.
    pub ifindex: u32,
}

/// What a receiver expects, for the checks that depend on local configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The v2 authentication we are configured with; a v2 packet whose auth type or
    /// data differ is rejected with `Reject::AuthMismatch`. Not applied to v3.
    pub auth: Auth,
    /// The lowest TTL / hop limit accepted: 255 (`VRRP_TTL`, RFC 9568: same link only)
    /// unless routed unicast peers are allowed a few hops ([`min_ttl`]).
    pub min_ttl: u8,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            auth: Auth::None,
            min_ttl: VRRP_TTL,
        }
    }
}

/// The lowest TTL / hop limit to accept from a sender up to `max_hops` routers away
/// (every router decrements it by one; advertisements are always sent with 255).
/// `max_hops` 0 is the RFC's rule: 255 only.
pub fn min_ttl(max_hops: u8) -> u8 {
    VRRP_TTL.saturating_sub(max_hops)
}

/// How many routers a packet received with `ttl` crossed, had it been sent with 255.
pub fn hops_travelled(ttl: u8) -> u8 {
    VRRP_TTL - ttl
}

/// A successfully decoded advertisement and how its checksum was formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub advert: Advertisement,
    pub checksum_form: ChecksumForm,
}

/// Why a received packet was dropped. Each variant has a stable `name()` for counters
/// and a `Display` for log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum Reject {
    #[error("packet too short: {len} bytes")]
    TooShort { len: usize },
    #[error("packet too long: {len} bytes, address count {count} needs {expected}")]
    TooLong {
        len: usize,
        count: u8,
        expected: usize,
    },
    #[error("unsupported VRRP version {version}")]
    BadVersion { version: u8 },
    #[error("unsupported VRRP type {kind} (only 1, ADVERTISEMENT, exists)")]
    BadType { kind: u8 },
    #[error(
        "TTL/hop limit {ttl}, below the accepted minimum (sent from off-link, or from further than unicast.max_hops allows?)"
    )]
    BadTtl { ttl: u8 },
    #[error("bad checksum 0x{received:04x}")]
    BadChecksum { received: u16 },
    /// The buffer is shorter than the address count needs, or the count is 0 (RFC 9568
    /// §5.2.5: "The minimum value is 1"; RFC 3768 §5.3.8: "One or more IP addresses").
    #[error("address count {count} does not match packet length {len}")]
    CountMismatch { count: u8, len: usize },
    #[error("zero advertisement interval")]
    ZeroInterval,
    #[error("VRRPv2 authentication does not match ours")]
    AuthMismatch,
    #[error("address family mismatch: {detail}")]
    FamilyMismatch { detail: &'static str },
}

impl Reject {
    /// A short, stable identifier for metrics and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Reject::TooShort { .. } => "too_short",
            Reject::TooLong { .. } => "too_long",
            Reject::BadVersion { .. } => "bad_version",
            Reject::BadType { .. } => "bad_type",
            Reject::BadTtl { .. } => "bad_ttl",
            Reject::BadChecksum { .. } => "bad_checksum",
            Reject::CountMismatch { .. } => "count_mismatch",
            Reject::ZeroInterval => "zero_interval",
            Reject::AuthMismatch => "auth_mismatch",
            Reject::FamilyMismatch { .. } => "family_mismatch",
        }
    }
}

/// Why an advertisement cannot be encoded. These are programming or configuration
/// errors (config validation prevents them), never network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("VRRPv2 is IPv4 only")]
    V2NotIpv4,
    #[error("VRRPv2 interval must be whole seconds between 1 and 255")]
    V2Interval,
    #[error("interval must be 1..=4095 centiseconds")]
    V3Interval,
    #[error("addresses of mixed families, or not the family of src/dst")]
    MixedFamilies,
    #[error("too many addresses: {count} (at most 255)")]
    TooManyAddresses { count: usize },
    /// An advertisement carries at least one address (RFC 9568 §5.2.5, RFC 3768
    /// §5.3.8); `decode` rejects one without, so `encode` refuses to produce it.
    #[error("an advertisement needs at least one address")]
    NoAddresses,
}

/// Where an encoded packet goes, for the pseudo-header checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeCtx {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Only consulted for v3 over IPv4; v2 never and v3/IPv6 always use their fixed form.
    pub checksum_form: ChecksumForm,
}

/// Length of the fixed VRRP header (both versions).
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data that follows the addresses.
pub const V2_AUTH_LEN: usize = 8;

/// VRRP type ADVERTISEMENT, the only type defined.
const TYPE_ADVERTISEMENT: u8 = 1;
/// VRRPv2 auth type 0: no authentication.
const AUTH_TYPE_NONE: u8 = 0;
/// VRRPv2 auth type 1: simple text password.
const AUTH_TYPE_PASSWORD: u8 = 1;
/// The 12 bits of the VRRPv3 Max Adver Int field; the upper 4 bits are reserved.
const V3_INTERVAL_MASK: u16 = 0x0fff;

impl Version {
    /// The number in the version nibble.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl Family {
    /// Bytes one address of this family takes on the wire.
    pub const fn address_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

/// The exact length of a VRRP message with `count` addresses.
pub const fn message_len(version: Version, family: Family, count: usize) -> usize {
    let auth = match version {
        Version::V2 => V2_AUTH_LEN,
        Version::V3 => 0,
    };
    HEADER_LEN + count * family.address_len() + auth
}

// ---------------------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------------------

/// The internet checksum (RFC 1071) over the concatenation of `chunks`.
///
/// The chunks are one byte stream: a chunk of odd length is continued by the next one,
/// and only the stream as a whole is padded with a zero byte. Computed over a message
/// whose checksum field is filled in (plus its pseudo-header, if any), the result is 0
/// exactly when the checksum is correct; computed with the field zeroed, it is the value
/// to store in the field (big-endian).
pub fn internet_checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    // The high byte of a 16-bit word whose low byte is in the next chunk.
    let mut pending: Option<u8> = None;
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        if let Some(high) = pending.take() {
            match rest.split_first() {
                Some((&low, tail)) => {
                    sum += u64::from(u16::from_be_bytes([high, low]));
                    rest = tail;
                }
                None => {
                    pending = Some(high);
                    continue;
                }
            }
        }
        let mut words = rest.chunks_exact(2);
        for word in &mut words {
            if let &[high, low] = word {
                sum += u64::from(u16::from_be_bytes([high, low]));
            }
        }
        if let &[last] = words.remainder() {
            pending = Some(last);
        }
    }
    if let Some(high) = pending {
        sum += u64::from(u16::from_be_bytes([high, 0]));
    }
    // Fold the carries back in (end-around carry) until the sum fits 16 bits.
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // `sum` <= 0xffff after folding, so the cast is lossless.
    !(sum as u16)
}

/// The IPv4 pseudo-header: source, destination, zero, protocol, upper-layer length.
pub fn ipv4_pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> [u8; 12] {
    let mut header = [0u8; 12];
    header[0..4].copy_from_slice(&src.octets());
    header[4..8].copy_from_slice(&dst.octets());
    header[9] = protocol;
    header[10..12].copy_from_slice(&length.to_be_bytes());
    header
}

/// The IPv6 pseudo-header (RFC 8200 §8.1): source, destination, 32-bit upper-layer
/// length, three zero bytes, next header.
pub fn ipv6_pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, length: u32, next_header: u8) -> [u8; 40] {
    let mut header = [0u8; 40];
    header[0..16].copy_from_slice(&src.octets());
    header[16..32].copy_from_slice(&dst.octets());
    header[32..36].copy_from_slice(&length.to_be_bytes());
    header[39] = next_header;
    header
}

/// The checksum of a VRRP `message`, with the pseudo-header of `src` -> `dst` for protocol
/// 112 when `form` says so. With the message's checksum field zeroed this is the value to
/// send; with it filled in, 0 means the checksum is correct.
///
/// `None` if src and dst are of different families, or (IPv4) the message is longer
/// than the 16-bit pseudo-header length field can say.
pub fn vrrp_checksum(message: &[u8], src: IpAddr, dst: IpAddr, form: ChecksumForm) -> Option<u16> {
    if form == ChecksumForm::WithoutPseudoHeader {
        return Some(internet_checksum(&[message]));
    }
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let length = u16::try_from(message.len()).ok()?;
            let pseudo = ipv4_pseudo_header(src, dst, IP_PROTO_VRRP, length);
            Some(internet_checksum(&[&pseudo, message]))
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let length = u32::try_from(message.len()).ok()?;
            let pseudo = ipv6_pseudo_header(src, dst, length, IP_PROTO_VRRP);
            Some(internet_checksum(&[&pseudo, message]))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Decode
// ---------------------------------------------------------------------------------------

/// Decodes and validates one received VRRP message (the IP header already removed).
///
/// Checks run cheapest and most structural first, so a packet is reported under the
/// first thing wrong with it: TTL (below `opts.min_ttl`), header length, version, type, address families,
/// VRRPv2 minimum length, address count against length, checksum, interval, and last
/// VRRPv2 authentication. Fields are only interpreted after the checksum has matched.
///
/// For VRRPv2 with auth type 0 the authentication data is ignored, as RFC 3768 §5.3.6.1
/// says ("set to zero on transmission and ignored on reception"); with type 1 all
/// eight bytes must equal the configured password. Any other auth type (2 = IPsec AH,
/// which keepalived still offers, or garbage) never matches.
pub fn decode(bytes: &[u8], meta: &RecvMeta, opts: &DecodeOptions) -> Result<Decoded, Reject> {
    let len = bytes.len();
    if meta.ttl < opts.min_ttl {
        return Err(Reject::BadTtl { ttl: meta.ttl });
    }
    let &[
        version_type,
        vrid,
        priority,
        count,
        field4,
        field5,
        _,
        _,
        ..,
    ] = bytes
    else {
        return Err(Reject::TooShort { len });
    };
    let version = match version_type >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        version => return Err(Reject::BadVersion { version }),
    };
    let kind = version_type & 0x0f;
    if kind != TYPE_ADVERTISEMENT {
        return Err(Reject::BadType { kind });
    }
    let family = Family::of(&meta.src);
    if Family::of(&meta.dst) != family {
        return Err(Reject::FamilyMismatch {
            detail: "source and destination addresses of different families",
        });
    }
    if version == Version::V2 && family != Family::V4 {
        return Err(Reject::FamilyMismatch {
            detail: "VRRPv2 received over IPv6",
        });
    }
    if len < message_len(version, family, 0) {
        return Err(Reject::TooShort { len });
    }
    let expected = message_len(version, family, usize::from(count));
    if count == 0 || len < expected {
        return Err(Reject::CountMismatch { count, len });
    }
    if len > expected {
        return Err(Reject::TooLong {
            len,
            count,
            expected,
        });
    }

    let checksum_form = verify_checksum(bytes, version, meta)?;

    let interval = match version {
        // v2: byte 4 is the auth type, byte 5 the interval in whole seconds.
        Version::V2 => Centisecs::from_secs(field5),
        // v3: 4 reserved bits, then 12 bits of centiseconds. Reserved bits are ignored.
        Version::V3 => Centisecs(u16::from_be_bytes([field4, field5]) & V3_INTERVAL_MASK),
    };
    if interval.0 == 0 {
        return Err(Reject::ZeroInterval);
    }

    let address_bytes = bytes
        .get(HEADER_LEN..HEADER_LEN + usize::from(count) * family.address_len())
        .ok_or(Reject::CountMismatch { count, len })?;
    let addresses = parse_addresses(address_bytes, family);

    let auth = match version {
        Version::V2 => {
            let data: [u8; V2_AUTH_LEN] = bytes
                .get(expected - V2_AUTH_LEN..expected)
                .and_then(|tail| tail.try_into().ok())
                .ok_or(Reject::TooShort { len })?;
            check_v2_auth(field4, data, opts.auth)?
        }
        Version::V3 => Auth::None,
    };

    Ok(Decoded {
        advert: Advertisement {
            version,
            vrid,
            priority,
            interval,
            addresses,
            auth,
        },
        checksum_form,
    })
}

/// Verifies the checksum in the form(s) the version and family allow, returning the
/// form that matched. v3 over IPv4 accepts either form, preferring the RFC's.
fn verify_checksum(
    bytes: &[u8],
    version: Version,
    meta: &RecvMeta,
) -> Result<ChecksumForm, Reject> {
    let candidates: &[ChecksumForm] = match (version, Family::of(&meta.src)) {
        (Version::V2, _) => &[ChecksumForm::WithoutPseudoHeader],
        (Version::V3, Family::V6) => &[ChecksumForm::WithPseudoHeader],
        (Version::V3, Family::V4) => &[
            ChecksumForm::WithPseudoHeader,
            ChecksumForm::WithoutPseudoHeader,
        ],
    };
    candidates
        .iter()
        .copied()
        .find(|&form| vrrp_checksum(bytes, meta.src, meta.dst, form) == Some(0))
        .ok_or_else(|| {
            let received = match bytes {
                &[_, _, _, _, _, _, high, low, ..] => u16::from_be_bytes([high, low]),
                _ => 0,
            };
            Reject::BadChecksum { received }
        })
}

/// The addresses in `bytes`, which the caller has cut to a whole number of addresses.
fn parse_addresses(bytes: &[u8], family: Family) -> Vec<IpAddr> {
    match family {
        Family::V4 => bytes
            .chunks_exact(4)
            .filter_map(|chunk| <[u8; 4]>::try_from(chunk).ok())
            .map(|octets| IpAddr::V4(Ipv4Addr::from(octets)))
            .collect(),
        Family::V6 => bytes
            .chunks_exact(16)
            .filter_map(|chunk| <[u8; 16]>::try_from(chunk).ok())
            .map(|octets| IpAddr::V6(Ipv6Addr::from(octets)))
            .collect(),
    }
}

/// Matches a VRRPv2 auth type and data against what we are configured with.
fn check_v2_auth(auth_type: u8, data: [u8; V2_AUTH_LEN], ours: Auth) -> Result<Auth, Reject> {
    match (auth_type, ours) {
        (AUTH_TYPE_NONE, Auth::None) => Ok(Auth::None),
        (AUTH_TYPE_PASSWORD, Auth::Password(password)) if data == password => {
            Ok(Auth::Password(data))
        }
        _ => Err(Reject::AuthMismatch),
    }
}

// ---------------------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------------------

/// Encodes an advertisement to be sent from `ctx.src` to `ctx.dst`.
///
/// The checksum is computed as the version and family require: VRRPv2 over the message
/// alone, VRRPv3 over IPv6 with the IPv6 pseudo-header, VRRPv3 over IPv4 as
/// `ctx.checksum_form` says. The reserved bits of the v3 interval field are written as
/// zero; for v3 `advert.auth` is ignored.
pub fn encode(advert: &Advertisement, ctx: &EncodeCtx) -> Result<Vec<u8>, EncodeError> {
    let family = Family::of(&ctx.src);
    if Family::of(&ctx.dst) != family {
        return Err(EncodeError::MixedFamilies);
    }
    if advert.version == Version::V2
        && (family != Family::V4 || advert.addresses.iter().any(IpAddr::is_ipv6))
    {
        return Err(EncodeError::V2NotIpv4);
    }
    let count = advert.addresses.len();
    let count_byte = u8::try_from(count).map_err(|_| EncodeError::TooManyAddresses { count })?;
    if count == 0 {
        return Err(EncodeError::NoAddresses);
    }
    if advert
        .addresses
        .iter()
        .any(|addr| Family::of(addr) != family)
    {
        return Err(EncodeError::MixedFamilies);
    }

    // Bytes 4 and 5: v2 auth type and seconds; v3 reserved bits and centiseconds.
    let (field4, field5) = match advert.version {
        Version::V2 => {
            let centis = advert.interval.0;
            let secs = u8::try_from(centis / 100).map_err(|_| EncodeError::V2Interval)?;
            if !centis.is_multiple_of(100) || secs == 0 {
                return Err(EncodeError::V2Interval);
            }
            let auth_type = match advert.auth {
                Auth::None => AUTH_TYPE_NONE,
                Auth::Password(_) => AUTH_TYPE_PASSWORD,
            };
            (auth_type, secs)
        }
        Version::V3 => {
            let centis = advert.interval.0;
            if centis == 0 || centis > V3_INTERVAL_MASK {
                return Err(EncodeError::V3Interval);
            }
            let [high, low] = centis.to_be_bytes();
            (high, low)
        }
    };

    let mut message = Vec::with_capacity(message_len(advert.version, family, count));
    message.extend_from_slice(&[
        (advert.version.number() << 4) | TYPE_ADVERTISEMENT,
        advert.vrid,
        advert.priority,
        count_byte,
        field4,
        field5,
        0,
        0,
    ]);
    for addr in &advert.addresses {
        match addr {
            IpAddr::V4(v4) => message.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => message.extend_from_slice(&v6.octets()),
        }
    }
    if advert.version == Version::V2 {
        let data = match advert.auth {
            Auth::None => [0u8; V2_AUTH_LEN],
            Auth::Password(data) => data,
        };
        message.extend_from_slice(&data);
    }

    let form = match (advert.version, family) {
        (Version::V2, _) => ChecksumForm::WithoutPseudoHeader,
        (Version::V3, Family::V6) => ChecksumForm::WithPseudoHeader,
        (Version::V3, Family::V4) => ctx.checksum_form,
    };
    // Families were checked above and the message is at most 8 + 255 * 16 bytes, so the
    // pseudo-header can always be formed.
    let checksum =
        vrrp_checksum(&message, ctx.src, ctx.dst, form).ok_or(EncodeError::MixedFamilies)?;
    if let Some(field) = message.get_mut(6..8) {
        field.copy_from_slice(&checksum.to_be_bytes());
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
    const DST4: IpAddr = IpAddr::V4(VRRP_GROUP_V4);
    const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0a01));
    const DST6: IpAddr = IpAddr::V6(VRRP_GROUP_V6);
    const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    const VIP6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100));

    fn meta(src: IpAddr, dst: IpAddr) -> RecvMeta {
        RecvMeta {
            src,
            dst,
            ttl: VRRP_TTL,
            ifindex: 2,
        }
    }

    fn ctx(src: IpAddr, dst: IpAddr, checksum_form: ChecksumForm) -> EncodeCtx {
        EncodeCtx {
            src,
            dst,
            checksum_form,
        }
    }

    fn v3(addresses: Vec<IpAddr>) -> Advertisement {
        Advertisement {
            version: Version::V3,
            vrid: 53,
            priority: 150,
            interval: Centisecs(50),
            addresses,
            auth: Auth::None,
        }
    }

    fn v2(auth: Auth) -> Advertisement {
        Advertisement {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval: Centisecs::from_secs(1),
            addresses: vec![VIP4],
            auth,
        }
    }

    /// Rewrites the checksum of a VRRP message after a test has edited it.
    fn refresh_checksum(bytes: &mut [u8], src: IpAddr, dst: IpAddr, form: ChecksumForm) {
        bytes[6] = 0;
        bytes[7] = 0;
        let checksum = vrrp_checksum(bytes, src, dst, form).unwrap();
        bytes[6..8].copy_from_slice(&checksum.to_be_bytes());
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&[&data]), !0xddf2);
        assert_eq!(internet_checksum(&[&data]), 0x220d);
    }

    #[test]
    fn checksum_treats_chunks_as_one_stream() {
        let data: Vec<u8> = (0u8..=40).map(|b| b.wrapping_mul(37)).collect();
        let whole = internet_checksum(&[&data]);
        for split in 0..=data.len() {
            let (a, b) = data.split_at(split);
            assert_eq!(internet_checksum(&[a, b]), whole, "split at {split}");
            assert_eq!(
                internet_checksum(&[a, &[], b]),
                whole,
                "split at {split} with empty"
            );
        }
    }

    #[test]
    fn checksum_pads_odd_length_with_zero() {
        assert_eq!(
            internet_checksum(&[&[0xab]]),
            internet_checksum(&[&[0xab, 0x00]])
        );
        assert_eq!(internet_checksum(&[]), 0xffff);
    }

    #[test]
    fn pseudo_headers_have_the_rfc_layout() {
        let v4 = ipv4_pseudo_header(Ipv4Addr::new(192, 0, 2, 11), VRRP_GROUP_V4, 112, 16);
        assert_eq!(v4, [192, 0, 2, 11, 224, 0, 0, 18, 0, 112, 0, 16]);
        let v6 = ipv6_pseudo_header(Ipv6Addr::LOCALHOST, VRRP_GROUP_V6, 24, 112);
        assert_eq!(&v6[..16], &Ipv6Addr::LOCALHOST.octets());
        assert_eq!(&v6[16..32], &VRRP_GROUP_V6.octets());
        assert_eq!(&v6[32..], &[0, 0, 0, 24, 0, 0, 0, 112]);
        assert_eq!(
            vrrp_checksum(&[], SRC4, DST6, ChecksumForm::WithPseudoHeader),
            None
        );
    }

    #[test]
    fn message_len_per_version_and_family() {
        assert_eq!(message_len(Version::V2, Family::V4, 1), 20);
        assert_eq!(message_len(Version::V3, Family::V4, 2), 16);
        assert_eq!(message_len(Version::V3, Family::V6, 1), 24);
        assert_eq!(message_len(Version::V3, Family::V6, 255), 8 + 255 * 16);
    }

    #[test]
    fn round_trips_each_version_and_form() {
        let cases = [
            (
                v2(Auth::None),
                SRC4,
                DST4,
                ChecksumForm::WithoutPseudoHeader,
            ),
            (
                v2(Auth::password("s3cret").unwrap()),
                SRC4,
                DST4,
                ChecksumForm::WithoutPseudoHeader,
            ),
            (v3(vec![VIP4]), SRC4, DST4, ChecksumForm::WithPseudoHeader),
            (
                v3(vec![VIP4]),
                SRC4,
                DST4,
                ChecksumForm::WithoutPseudoHeader,
            ),
            (v3(vec![VIP6]), SRC6, DST6, ChecksumForm::WithPseudoHeader),
        ];
        for (advert, src, dst, form) in cases {
            let bytes = encode(&advert, &ctx(src, dst, form)).unwrap();
            let opts = DecodeOptions {
                auth: advert.auth,
                ..DecodeOptions::default()
            };
            let decoded = decode(&bytes, &meta(src, dst), &opts).unwrap();
            assert_eq!(
                decoded,
                Decoded {
                    advert,
                    checksum_form: form
                }
            );
        }
    }

    #[test]
    fn v2_and_v3_over_ipv6_ignore_the_requested_form() {
        let bytes = encode(
            &v2(Auth::None),
            &ctx(SRC4, DST4, ChecksumForm::WithPseudoHeader),
        )
        .unwrap();
        let decoded = decode(&bytes, &meta(SRC4, DST4), &DecodeOptions::default()).unwrap();
        assert_eq!(decoded.checksum_form, ChecksumForm::WithoutPseudoHeader);

        let advert = v3(vec![VIP6]);
        let bytes = encode(&advert, &ctx(SRC6, DST6, ChecksumForm::WithoutPseudoHeader)).unwrap();
        let decoded = decode(&bytes, &meta(SRC6, DST6), &DecodeOptions::default()).unwrap();
        assert_eq!(decoded.checksum_form, ChecksumForm::WithPseudoHeader);
    }

    #[test]
    fn v3_ipv4_prefers_the_pseudo_header_when_both_forms_verify() {
        // The pseudo-header words of 192.0.2.11 -> 61.120.0.0, protocol 112, length 12 sum
        // to 0xffff, ones' complement zero: both forms give the same checksum.
        let dst = IpAddr::V4(Ipv4Addr::new(61, 120, 0, 0));
        let advert = v3(vec![VIP4]);
        let without = encode(&advert, &ctx(SRC4, dst, ChecksumForm::WithoutPseudoHeader)).unwrap();
        let with = encode(&advert, &ctx(SRC4, dst, ChecksumForm::WithPseudoHeader)).unwrap();
        assert_eq!(without, with);
        let decoded = decode(&without, &meta(SRC4, dst), &DecodeOptions::default()).unwrap();
        assert_eq!(decoded.checksum_form, ChecksumForm::WithPseudoHeader);
    }

    #[test]
    fn v3_reserved_interval_bits_are_ignored_on_decode_and_zero_on_encode() {
        let ctx = ctx(SRC4, DST4, ChecksumForm::WithPseudoHeader);
        let mut bytes = encode(&v3(vec![VIP4]), &ctx).unwrap();
        assert_eq!(bytes[4] & 0xf0, 0);
        bytes[4] |= 0xf0;
        refresh_checksum(&mut bytes, SRC4, DST4, ChecksumForm::WithPseudoHeader);
        let decoded = decode(&bytes, &meta(SRC4, DST4), &DecodeOptions::default()).unwrap();
        assert_eq!(decoded.advert.interval, Centisecs(50));
    }

    #[test]
    fn v3_interval_with_only_reserved_bits_is_zero() {
        let mut bytes = encode(
            &v3(vec![VIP4]),
            &ctx(SRC4, DST4, ChecksumForm::WithPseudoHeader),
        )
        .unwrap();
        bytes[4] = 0xf0;
        bytes[5] = 0;
        refresh_checksum(&mut bytes, SRC4, DST4, ChecksumForm::WithPseudoHeader);
        let got = decode(&bytes, &meta(SRC4, DST4), &DecodeOptions::default());
        assert_eq!(got, Err(Reject::ZeroInterval));
    }

    #[test]
    fn v2_without_auth_ignores_auth_data() {
        // RFC 3768 §5.3.6.1: with auth type 0 the data is "ignored on reception".
        let mut bytes = encode(
            &v2(Auth::None),
            &ctx(SRC4, DST4, ChecksumForm::WithoutPseudoHeader),
        )
        .unwrap();
        let n = bytes.len();
        bytes[n - 8..].copy_from_slice(b"garbage!");
        refresh_checksum(&mut bytes, SRC4, DST4, ChecksumForm::WithoutPseudoHeader);
        let decoded = decode(&bytes, &meta(SRC4, DST4), &DecodeOptions::default()).unwrap();
        assert_eq!(decoded.advert.auth, Auth::None);
    }

    #[test]
    fn v2_auth_types_must_match_ours() {
        let password = Auth::password("s3cret").unwrap();
        let plain = encode(
            &v2(Auth::None),
            &ctx(SRC4, DST4, ChecksumForm::WithoutPseudoHeader),
        )
        .unwrap();
        let with_password = encode(
            &v2(password),
            &ctx(SRC4, DST4, ChecksumForm::WithoutPseudoHeader),
        )
        .unwrap();
        let m = meta(SRC4, DST4);
        let expect_password = DecodeOptions {
            auth: password,
            ..DecodeOptions::default()
        };
        assert_eq!(
            decode(&plain, &m, &expect_password),
            Err(Reject::AuthMismatch)
        );
        assert_eq!(
            decode(&with_password, &m, &DecodeOptions::default()),
            Err(Reject::AuthMismatch)
        );
        let other = DecodeOptions {
            auth: Auth::password("s3cres").unwrap(),
            ..DecodeOptions::default()
        };
        assert_eq!(
            decode(&with_password, &m, &other),
            Err(Reject::AuthMismatch)
        );

        // Auth type 2 (IPsec AH in keepalived) and anything else never match.
        for auth_type in [2u8, 3, 255] {
            let mut bytes = with_password.clone();
            bytes[4] = auth_type;
            refresh_checksum(&mut bytes, SRC4, DST4, ChecksumForm::WithoutPseudoHeader);
            assert_eq!(
                decode(&bytes, &m, &expect_password),
                Err(Reject::AuthMismatch)
            );
            assert_eq!(
                decode(&bytes, &m, &DecodeOptions::default()),
                Err(Reject::AuthMismatch)
            );
        }
    }

    #[test]
    fn short_buffers_are_too_short() {
        let m = meta(SRC4, DST4);
        let opts = DecodeOptions::default();
        for len in 0..HEADER_LEN {
            let bytes = vec![0x31; len];
            assert_eq!(decode(&bytes, &m, &opts), Err(Reject::TooShort { len }));
        }
        // A v2 header without room for the auth data.
        let bytes = [0x21, 1, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1, 0, 0, 0];
        assert_eq!(decode(&bytes, &m, &opts), Err(Reject::TooShort { len: 15 }));
    }

    #[test]
    fn zero_count_is_rejected() {
        // A v3 header alone is self-consistent but carries no address (RFC 9568 §5.2.5).
        let mut bytes = vec![0x31, 1, 100, 0, 0, 100, 0, 0];
        refresh_checksum(&mut bytes, SRC4, DST4, ChecksumForm::WithPseudoHeader);
        let got = decode(&bytes, &meta(SRC4, DST4), &DecodeOptions::default());
        assert_eq!(got, Err(Reject::CountMismatch { count: 0, len: 8 }));
    }

    #[test]
    fn ttl_is_checked_before_anything_else() {
        let m = RecvMeta {
            ttl: 1,
            ..meta(SRC4, DST6)
        };
        assert_eq!(
            decode(&[], &m, &DecodeOptions::default()),
            Err(Reject::BadTtl { ttl: 1 })
        );
    }

    #[test]
    fn min_ttl_accepts_routed_peers_up_to_max_hops_only() {
        assert_eq!(min_ttl(0), 255);
        assert_eq!(min_ttl(1), 254);
        assert_eq!(min_ttl(254), 1);
        assert_eq!(hops_travelled(255), 0);
        assert_eq!(hops_travelled(253), 2);
        let advert = v3(vec![VIP4]);
        let bytes = encode(&advert, &ctx(SRC4, DST4, ChecksumForm::WithPseudoHeader)).unwrap();
        let at = |ttl| RecvMeta {
            ttl,
            ..meta(SRC4, DST4)
        };
        let one_hop = DecodeOptions {
            min_ttl: min_ttl(1),
            ..DecodeOptions::default()
        };
        // The RFC's rule by default: one router in between is too many.
        assert_eq!(
            decode(&bytes, &at(254), &DecodeOptions::default()),
            Err(Reject::BadTtl { ttl: 254 })
        );
        assert!(decode(&bytes, &at(255), &one_hop).is_ok());
        assert!(decode(&bytes, &at(254), &one_hop).is_ok());
        assert_eq!(
            decode(&bytes, &at(253), &one_hop),
            Err(Reject::BadTtl { ttl: 253 })
        );
    }

    #[test]
    fn encode_rejects_what_decode_would() {
        let c4 = ctx(SRC4, DST4, ChecksumForm::WithPseudoHeader);
        let c6 = ctx(SRC6, DST6, ChecksumForm::WithPseudoHeader);
        let mixed_ctx = ctx(SRC4, DST6, ChecksumForm::WithPseudoHeader);

        assert_eq!(encode(&v2(Auth::None), &c6), Err(EncodeError::V2NotIpv4));
        let mut advert = v2(Auth::None);
        advert.addresses = vec![VIP6];
        assert_eq!(encode(&advert, &c4), Err(EncodeError::V2NotIpv4));

        for centis in [0, 50, 150, 25_600] {
            let advert = Advertisement {
                interval: Centisecs(centis),
                ..v2(Auth::None)
            };
            assert_eq!(
                encode(&advert, &c4),
                Err(EncodeError::V2Interval),
                "{centis} cs"
            );
        }
        let advert = Advertisement {
            interval: Centisecs::from_secs(255),
            ..v2(Auth::None)
        };
        assert!(encode(&advert, &c4).is_ok());

        for centis in [0, 4096, u16::MAX] {
            let advert = Advertisement {
                interval: Centisecs(centis),
                ..v3(vec![VIP4])
            };
            assert_eq!(
                encode(&advert, &c4),
                Err(EncodeError::V3Interval),
                "{centis} cs"
            );
        }

        assert_eq!(
            encode(&v3(vec![VIP4, VIP6]), &c4),
            Err(EncodeError::MixedFamilies)
        );
        assert_eq!(
            encode(&v3(vec![VIP6]), &c4),
            Err(EncodeError::MixedFamilies)
        );
        assert_eq!(
            encode(&v3(vec![VIP4]), &mixed_ctx),
            Err(EncodeError::MixedFamilies)
        );
        assert_eq!(encode(&v3(vec![]), &c4), Err(EncodeError::NoAddresses));
        assert_eq!(
            encode(&v3(vec![VIP4; 256]), &c4),
            Err(EncodeError::TooManyAddresses { count: 256 })
        );
        let full = encode(&v3(vec![VIP6; 255]), &c6).unwrap();
        assert_eq!(full.len(), message_len(Version::V3, Family::V6, 255));
    }

    #[test]
    fn reject_names_are_distinct() {
        let all = [
            Reject::TooShort { len: 0 },
            Reject::TooLong {
                len: 0,
                count: 0,
                expected: 0,
            },
            Reject::BadVersion { version: 0 },
            Reject::BadType { kind: 0 },
            Reject::BadTtl { ttl: 0 },
            Reject::BadChecksum { received: 0 },
            Reject::CountMismatch { count: 0, len: 0 },
            Reject::ZeroInterval,
            Reject::AuthMismatch,
            Reject::FamilyMismatch { detail: "" },
        ];
        let names: std::collections::HashSet<_> = all.iter().map(Reject::name).collect();
        assert_eq!(names.len(), all.len());
    }
}
