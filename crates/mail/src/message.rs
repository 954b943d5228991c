/// The messages the PDS sends. Subjects follow the reference PDS (some clients and users
/// filter on them); bodies are plain text written for Aerie, ASCII with short lines so
/// they travel as 7bit and the code stays copyable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Email<'a> {
    /// `com.atproto.server.requestPasswordReset`: the code for `resetPassword`.
    PasswordReset {
        /// The account's handle, so the reader knows which account is meant.
        handle: &'a str,
        /// The reset code.
        token: &'a str,
    },
    /// `com.atproto.server.requestEmailConfirmation`: the code for `confirmEmail`.
    ConfirmEmail {
        /// The confirmation code.
        token: &'a str,
    },
    /// `com.atproto.server.requestEmailUpdate`: the code for `updateEmail`, sent to the
    /// current (confirmed) address.
    UpdateEmail {
        /// The update code.
        token: &'a str,
    },
    /// `com.atproto.server.requestAccountDelete`: the code for `deleteAccount`.
    DeleteAccount {
        /// The deletion code.
        token: &'a str,
    },
    /// `com.atproto.identity.requestPlcOperationSignature`: the code for
    /// `signPlcOperation` (moving the account to another server).
    PlcOperation {
        /// The signing code.
        token: &'a str,
    },
    /// A test message for `aerie doctor`.
    Test,
}

impl Email<'_> {
    /// The Subject header.
    pub fn subject(&self) -> &'static str {
        match self {
            Email::PasswordReset { .. } => "Password Reset Requested",
            Email::ConfirmEmail { .. } => "Email Confirmation",
            Email::UpdateEmail { .. } => "Email Update Requested",
            Email::DeleteAccount { .. } => "Account Deletion Requested",
            Email::PlcOperation { .. } => "PLC Update Operation Requested",
            Email::Test => "Aerie test message",
        }
    }

    /// The code this message carries, if any.
    pub fn token(&self) -> Option<&str> {
        match *self {
            Email::PasswordReset { token, .. }
            | Email::ConfirmEmail { token }
            | Email::UpdateEmail { token }
            | Email::DeleteAccount { token }
            | Email::PlcOperation { token } => Some(token),
            Email::Test => None,
        }
    }

    /// The plain-text body.
    pub fn body(&self) -> String {
        let (intro, purpose) = match self {
            Email::PasswordReset { handle, .. } => (
                format!("Someone asked to reset the password of the account @{handle}."),
                "To choose a new password, enter this reset code in your app",
            ),
            Email::ConfirmEmail { .. } => (
                "Please confirm that this email address belongs to your account.".to_owned(),
                "To confirm it, enter this code in your app",
            ),
            Email::UpdateEmail { .. } => (
                "Someone asked to change the email address of your account.".to_owned(),
                "To allow the change, enter this code in your app along with\nthe new address",
            ),
            Email::DeleteAccount { .. } => (
                "Someone asked to delete your account. Deletion removes your posts,\nmedia and all other data held on this server, and cannot be undone.".to_owned(),
                "To delete the account, enter this code in your app",
            ),
            Email::PlcOperation { .. } => (
                "Someone asked to update your account's identity (DID) record, which\nis how an account moves to another server.".to_owned(),
                "To sign the update, enter this code in your app",
            ),
            Email::Test => {
                return "This is a test message from your Aerie PDS.\n\n\
                        If you can read it, the server's outgoing mail settings work.\n"
                    .to_owned();
            }
        };
        let token = self.token().unwrap_or_default();
        format!(
            "Hello,\n\n{intro}\n\n{purpose}:\n\n    {token}\n\n\
             The code works once and expires soon.\n\n\
             If you did not ask for this, ignore this message: nothing changes\n\
             unless the code is entered. Never share the code with anyone.\n"
        )
    }
}
