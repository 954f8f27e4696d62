//! TCP and HTTP/1.1 plumbing, below Engine.IO: the listening socket with a raised backlog, the
//! accept loop serving each connection with hyper (upgrades enabled), and raw HTTP responses for
//! sockets a host adopted. It serves whatever service it is given and knows nothing of Engine.IO.

pub(crate) mod listener;
pub(crate) mod response;
