//! The three query parameters Engine.IO routes on. Values we compare are plain ASCII, so no
//! percent-decoding is needed; anything unexpected simply fails to match.

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EngineQuery<'a> {
    pub eio: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub sid: Option<&'a str>,
}

pub(crate) fn parse(query: &str) -> EngineQuery<'_> {
    let mut out = EngineQuery::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "EIO" => out.eio = Some(value),
            "transport" => out.transport = Some(value),
            "sid" => out.sid = Some(value),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_params() {
        let q = parse("EIO=4&transport=polling&t=abc&sid=xyz");
        assert_eq!(q.eio, Some("4"));
        assert_eq!(q.transport, Some("polling"));
        assert_eq!(q.sid, Some("xyz"));
        assert_eq!(parse(""), EngineQuery::default());
        assert_eq!(parse("EIO").eio, Some(""));
    }
}
