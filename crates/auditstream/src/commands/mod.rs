pub mod demo;
pub mod log;
pub mod receive;
pub mod replay;
pub mod run;
