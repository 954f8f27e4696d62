//! `Args`: the arguments of an emit or an ack as JSON text, with their binary attachments.

use bytes::Bytes;
use serde_json::value::RawValue;

/// Arguments of an emit or an ack: the JSON of each argument joined by commas (no brackets), plus
/// binary attachments referenced by `{"_placeholder":true,"num":i}` markers in that JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The arguments' JSON, comma-joined, without brackets (the encoder writes it as is).
    pub(super) inner: String,
    pub(super) attachments: Vec<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidArgs(pub &'static str);

impl std::fmt::Display for InvalidArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidArgs {}

impl From<InvalidArgs> for crate::error::Error {
    fn from(error: InvalidArgs) -> Self {
        Self::new(crate::error::ErrorKind::InvalidJson, error.0)
    }
}

impl Args {
    /// No arguments.
    pub fn none() -> Self {
        Self::default()
    }

    /// One argument given as JSON text; the text is validated once, here.
    pub fn json(json: &str) -> Result<Self, InvalidArgs> {
        serde_json::from_str::<&RawValue>(json).map_err(|_| InvalidArgs("invalid JSON"))?;
        Ok(Self {
            inner: json.trim().to_owned(),
            attachments: Vec::new(),
        })
    }

    /// One argument given as JSON text the caller guarantees is valid (produced by a JSON
    /// serializer such as `JSON.stringify`); nothing is checked or copied. Invalid text here
    /// would reach clients as an undecodable packet, so validate anything else with `json`.
    pub fn trusted_json(json: String) -> Self {
        Self {
            inner: json,
            attachments: Vec::new(),
        }
    }

    /// Several arguments as JSON array text the caller guarantees is valid (`JSON.stringify` of
    /// an array); only the brackets are checked. See `trusted_json`.
    pub fn trusted_json_array(mut json: String) -> Result<Self, InvalidArgs> {
        if !(json.starts_with('[') && json.ends_with(']')) {
            return Err(InvalidArgs("expected a JSON array"));
        }
        json.pop();
        json.remove(0);
        Ok(Self::trusted_json(json))
    }

    /// Several arguments given as a JSON array text.
    pub fn json_array(json: &str) -> Result<Self, InvalidArgs> {
        let items: Vec<&RawValue> =
            serde_json::from_str(json).map_err(|_| InvalidArgs("expected a JSON array"))?;
        Ok(Self::from_raw(&items))
    }

    /// One argument from any serializable value.
    pub fn serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, InvalidArgs> {
        let inner = serde_json::to_string(value).map_err(|_| InvalidArgs("not serializable"))?;
        Ok(Self {
            inner,
            attachments: Vec::new(),
        })
    }

    /// One binary argument.
    pub fn binary(data: Bytes) -> Self {
        Self {
            inner: r#"{"_placeholder":true,"num":0}"#.to_owned(),
            attachments: vec![data],
        }
    }

    pub(crate) fn from_raw(items: &[&RawValue]) -> Self {
        let mut inner = String::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                inner.push(',');
            }
            inner.push_str(item.get());
        }
        Self {
            inner,
            attachments: Vec::new(),
        }
    }

    /// Arguments whose JSON refers to `attachments` through placeholders; `json_array` is the
    /// arguments as an array. The placeholder count must match the attachments.
    pub fn with_attachments(
        json_array: &str,
        attachments: Vec<Bytes>,
    ) -> Result<Self, InvalidArgs> {
        let mut args = Self::json_array(json_array)?;
        if count_placeholders(&args.inner) != attachments.len() {
            return Err(InvalidArgs("placeholder count does not match attachments"));
        }
        args.attachments = attachments;
        Ok(args)
    }

    /// These arguments plus one trailing string (the recovery offset).
    pub(crate) fn with_trailing_string(&self, value: &str) -> Self {
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned());
        let inner = if self.inner.is_empty() {
            quoted
        } else {
            format!("{},{}", self.inner, quoted)
        };
        Self {
            inner,
            attachments: self.attachments.clone(),
        }
    }

    pub(crate) fn set_attachments(&mut self, attachments: Vec<Bytes>) {
        self.attachments = attachments;
    }

    /// The arguments as a JSON array text (placeholders included).
    pub fn to_json_array(&self) -> String {
        format!("[{}]", self.inner)
    }

    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The first argument alone (none when there is none), with the attachments its
    /// placeholders refer to (all of them: their numbering stays valid).
    pub fn first(&self) -> Self {
        let text = self.to_json_array();
        let first = serde_json::from_str::<Vec<&RawValue>>(&text)
            .ok()
            .and_then(|items| items.first().map(|item| item.get().to_owned()));
        match first {
            Some(inner) => Self {
                inner,
                attachments: self.attachments.clone(),
            },
            None => Self::none(),
        }
    }
}

fn count_placeholders(json: &str) -> usize {
    json.matches(r#""_placeholder":true"#).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trusted_array_keeps_its_items() {
        let args = Args::trusted_json_array(r#"[1,{"a":[2]},"x"]"#.to_owned()).unwrap();
        assert_eq!(args, Args::json_array(r#"[1,{"a":[2]},"x"]"#).unwrap());
        assert_eq!(
            Args::trusted_json_array("[]".to_owned()).unwrap(),
            Args::none()
        );
        assert!(Args::trusted_json_array("{}".to_owned()).is_err());
    }

    #[test]
    fn args_validate_their_json() {
        assert!(Args::json("{oops").is_err());
        assert!(Args::json_array("{}").is_err());
        assert!(Args::with_attachments("[1]", vec![Bytes::new()]).is_err());
        assert_eq!(Args::json_array("[1, 2]").unwrap().to_json_array(), "[1,2]");
    }
}
