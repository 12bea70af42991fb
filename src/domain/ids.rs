//! Typed ids, so a user id can never be passed where a workspace id belongs.

use crate::db::{FromColumn, Param, Value};

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn generate() -> Self {
                $name(crate::db::new_id())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Param for $name {
            fn value(&self) -> Value<'_> {
                Value::Text(&self.0)
            }
        }

        impl FromColumn for $name {
            fn from_value(value: Value<'_>) -> Result<Self, String> {
                String::from_value(value).map($name)
            }
        }
    )*};
}

id_type!(WorkspaceId, UserId, AgentId, PatId);
