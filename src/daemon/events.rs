//! STUB, replaced by the watch branch.
pub struct EventSocket;
impl EventSocket {
    pub fn bind(_path: &std::path::Path) -> std::io::Result<EventSocket> {
        Ok(EventSocket)
    }
    pub fn publish(&self, _line: &str) {}
}
