mod audit;
mod consolidate;
mod review;
mod util;
