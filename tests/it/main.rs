mod parse_props;
mod util;
mod validate;
