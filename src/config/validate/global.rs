//! The `global:` section: the script user and the event socket.

use super::values::at;
use super::{Health, Validator};
use crate::config::Global;
use crate::config::schema::RawGlobal;

impl Validator<'_> {
    pub(super) fn global(&mut self, raw: &RawGlobal, health: &mut Health) -> Global {
        let mut global = Global::default();
        if let Some(user) = &raw.script_user {
            health.script_user_at = Some(at(&user.referenced));
            let name = user.value.trim();
            let valid = !name.is_empty()
                && name.len() <= 32
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '$'));
            if valid {
                global.script_user = Some(name.to_owned());
            } else {
                self.sink.error(
                    at(&user.referenced),
                    "global.script_user",
                    format!("`{}` is not a user name", user.value),
                    Some("the name of an existing unprivileged user, such as floatip".to_owned()),
                );
            }
        }
        if let Some(path) = &raw.event_socket {
            global.event_socket = self.absolute_file(
                "global.event_socket",
                path,
                "a path for a Unix socket, such as /run/floatip/events.sock",
            );
        }
        global
    }
}
