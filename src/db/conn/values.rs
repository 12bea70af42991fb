//! How Rust values become statement parameters ([`Param`]) and how
//! columns become Rust values ([`FromColumn`]): the scalars, typed ids and
//! word enums.

use super::{Result, Value};

/// Something that can be bound as a statement parameter.
pub trait Param {
    fn value(&self) -> Value<'_>;
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl Param for $t {
            fn value(&self) -> Value<'_> {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_param!(i64, i32, u32, u16, u8);

impl Param for usize {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl Param for u64 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Param for f64 {
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Param for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl Param for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<const N: usize> Param for [u8; N] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

/// The parameters of one statement: `params![a, b]`, `[a]` or `[]`.
pub trait Params {
    /// Calls `bind` with each parameter's value, in order.
    fn each<'s>(&'s self, bind: &mut dyn FnMut(Value<'s>) -> Result<()>) -> Result<()>;
}

impl Params for &[&dyn Param] {
    fn each<'s>(&'s self, bind: &mut dyn FnMut(Value<'s>) -> Result<()>) -> Result<()> {
        self.iter().try_for_each(|p| bind(p.value()))
    }
}

impl Params for [&dyn Param; 0] {
    fn each<'s>(&'s self, _: &mut dyn FnMut(Value<'s>) -> Result<()>) -> Result<()> {
        Ok(())
    }
}

macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: Param> Params for [T; $n] {
            fn each<'s>(&'s self, bind: &mut dyn FnMut(Value<'s>) -> Result<()>) -> Result<()> {
                self.iter().try_for_each(|p| bind(p.value()))
            }
        }
        impl<T: Param> Params for &[T; $n] {
            fn each<'s>(&'s self, bind: &mut dyn FnMut(Value<'s>) -> Result<()>) -> Result<()> {
                self.iter().try_for_each(|p| bind(p.value()))
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8);

/// `params![a, b, c]`: parameters of different types for one statement.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::Param),+] as &[&dyn $crate::db::Param] };
}

/// Something a column can be read into.
pub trait FromColumn: Sized {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, String>;
}

impl FromColumn for i64 {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Int(i) => Ok(i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

macro_rules! narrow_int {
    ($($t:ty),*) => {$(
        impl FromColumn for $t {
            fn from_value(value: Value<'_>) -> std::result::Result<Self, String> {
                let i = i64::from_value(value)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
            }
        }
    )*};
}
narrow_int!(i32, u32, u64, usize, u16, u8);

impl FromColumn for bool {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, String> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromColumn for f64 {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Real(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromColumn for String {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.to_string()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl FromColumn for Vec<u8> {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.to_vec()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_value(value: Value<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

macro_rules! id_columns {
    ($($name:ident),* $(,)?) => {$(
        impl Param for crate::model::ids::$name {
            fn value(&self) -> Value<'_> {
                Value::Text(&self.0)
            }
        }

        impl FromColumn for crate::model::ids::$name {
            fn from_value(value: Value<'_>) -> Result<Self, String> {
                String::from_value(value).map(crate::model::ids::$name)
            }
        }
    )*};
}

// Ids are text columns.
id_columns!(WorkspaceId, UserId, AgentId, PatId, CheckoutId, ApprovalId, ResourceId, GrantId, CertificateId, SessionId);

macro_rules! word_columns {
    ($($name:ident),* $(,)?) => {$(
        impl Param for crate::model::$name {
            fn value(&self) -> Value<'_> {
                Value::Text(self.as_str())
            }
        }

        impl FromColumn for crate::model::$name {
            fn from_value(value: Value<'_>) -> Result<Self, String> {
                let raw = String::from_value(value)?;
                crate::model::$name::parse(&raw)
                    .ok_or_else(|| format!("{raw:?} is not a {}", stringify!($name)))
            }
        }
    )*};
}

// Word enums are text columns holding their word; an unknown word is a
// read error, never a silent default.
word_columns!(CertificateStatus, AgentKind, Outcome, Window);
