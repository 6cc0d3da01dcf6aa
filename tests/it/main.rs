mod parse_props;
mod providers;
mod run;
mod util;
mod validate;
