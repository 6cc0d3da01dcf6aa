mod parse_props;
mod run;
mod util;
mod validate;
