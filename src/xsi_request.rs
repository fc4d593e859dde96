//! The email that asks Cisco to enable XSI and grant `spark-admin:xsi` to an
//! organisation: one text, printed by `wxc-preflight xsi-request` and shown
//! with the `scopes.xsi-missing` and `xsi.not-enabled` findings.

use crate::webex::ids;

/// The address Cisco takes XSI requests at.
pub const ADDRESS: &str = "webex_calling_xsi_access@cisco.com";

/// The email, with what is known filled in and placeholders naming how to
/// find the rest.
#[must_use]
pub fn email(org_id: Option<&str>, org_name: Option<&str>, client_id: &str) -> String {
    let uuid = org_id.and_then(ids::decode).map(|id| id.uuid);
    let org_id = org_id.unwrap_or("<orgId: run `wxc-preflight auth status` once logged in>");
    let org_name = org_name
        .filter(|name| !name.trim().is_empty())
        .unwrap_or("<organisation name as shown in Control Hub>");
    let uuid_line = uuid
        .map(|u| format!("Organisation UUID: {u}\n"))
        .unwrap_or_default();
    format!(
        "To: {ADDRESS}\n\
         Subject: XSI access request for Webex Calling organisation {org_id}\n\
         \n\
         Hello,\n\
         \n\
         please enable Webex Calling XSI for our organisation and grant the\n\
         spark-admin:xsi scope to our integration, which drives test calls through\n\
         XSI-Actions for our Webex Calling multi-tenant test harness.\n\
         \n\
         Organisation name: {org_name}\n\
         Organisation id (orgId): {org_id}\n\
         {uuid_line}\
         Integration client id: {client_id}\n\
         \n\
         Thank you.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_names_the_org_and_the_integration() {
        let id = ids::encode("ORGANIZATION", "0f0e-uuid");
        let text = email(Some(&id), Some("Acme"), "C123");
        assert!(text.starts_with("To: webex_calling_xsi_access@cisco.com\n"));
        assert!(text.contains(&format!("Organisation id (orgId): {id}\n")));
        assert!(text.contains("Organisation UUID: 0f0e-uuid\n"));
        assert!(text.contains("Organisation name: Acme\n"));
        assert!(text.contains("Integration client id: C123\n"));
    }

    #[test]
    fn unknown_parts_say_how_to_find_them() {
        let text = email(None, Some(" "), "C1");
        assert!(text.contains("<orgId"));
        assert!(text.contains("<organisation name"));
        assert!(!text.contains("UUID"));
    }
}
