//! `/static/`: the stylesheet, scripts and images of the admin pages.
//!
//! Every file under the source tree's `static/` is built into the binary (`build.rs`
//! writes the table), so an installed binary serves the full admin from any working
//! directory. `SODARCACHE_STATIC_DIR` replaces them with a directory's files, served
//! by actix-files (for trying out a stylesheet without rebuilding).

use actix_web::http::header::{self, ContentType, EntityTag, IfNoneMatch};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};

/// `(path under static/, contents, quoted ETag)`, sorted by path.
static FILES: &[(&str, &[u8], &str)] = include!(concat!(env!("OUT_DIR"), "/static_files.rs"));

/// The files built into the binary, by path under `static/`.
pub fn embedded() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    FILES.iter().map(|(path, bytes, _)| (*path, *bytes))
}

/// Registers `/static/`: the directory named by `SODARCACHE_STATIC_DIR` when it is
/// set, the embedded files otherwise.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let scope = web::scope("/static")
        .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "public, max-age=86400")));
    match std::env::var_os("SODARCACHE_STATIC_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => cfg.service(
            scope.service(
                actix_files::Files::new("", dir)
                    .use_etag(true)
                    .use_last_modified(true),
            ),
        ),
        None => cfg.service(
            scope.service(
                web::resource("/{path:.*}")
                    .route(web::get().to(serve))
                    .route(web::head().to(serve))
                    .default_service(web::to(|| async {
                        actix_web::HttpResponse::MethodNotAllowed()
                            .insert_header((header::ALLOW, "GET, HEAD"))
                            .finish()
                    })),
            ),
        ),
    };
}

/// One embedded file, with its ETag; `If-None-Match` with that tag is a 304.
async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Ok(at) = FILES.binary_search_by(|(p, _, _)| p.cmp(&path.as_str())) else {
        return HttpResponse::NotFound()
            .content_type(ContentType::plaintext())
            .body("Not found");
    };
    let (name, bytes, etag) = FILES[at];
    let tag = EntityTag::new_strong(etag.trim_matches('"').to_owned());
    if let Ok(IfNoneMatch::Items(tags)) = <IfNoneMatch as header::Header>::parse(&req)
        && tags.iter().any(|t| t.weak_eq(&tag))
    {
        return HttpResponse::NotModified()
            .insert_header(header::ETag(tag))
            .finish();
    }
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    HttpResponse::Ok()
        .content_type(actix_files::file_extension_to_mime(ext))
        .insert_header(header::ETag(tag))
        .body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_static_file_is_embedded_and_sorted() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                continue;
            }
            let name = path.file_name().unwrap().to_str().unwrap();
            let (_, bytes) = embedded()
                .find(|(p, _)| *p == name)
                .unwrap_or_else(|| panic!("{name} is not embedded"));
            assert_eq!(bytes, std::fs::read(&path).unwrap().as_slice(), "{name}");
        }
        assert!(
            FILES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted for lookup"
        );
    }
}
