#include "secrets.h"

#include "log.h"

bool load_server_secrets(const ServerConfig& config, ServerSecrets& out,
                         std::vector<ConfigError>& errors) {
  size_t first = errors.size();
  auto settings = std::make_shared<AuthSettings>();
  settings->enabled = !config.auth_none;
  std::string err;
  if (!config.auth_none) {
    if (!config.auth_key_file.empty() &&
        !load_key_file(config.auth_key_file.path, settings->key, err))
      errors.push_back({config.auth_key_file.file, config.auth_key_file.line,
                        "AUTH_KEY_FILE '" + config.auth_key_file.path + "': " + err});
    for (const auto& c : config.clients) {
      Key key;
      if (!load_key_file(c.second.path, key, err))
        errors.push_back({c.second.file, c.second.line,
                          "client " + c.first + ": key file '" + c.second.path + "': " + err});
      else
        settings->clients[c.first] = std::move(key);
    }
  }
  if (!config.tls_cert.empty()) {
    ServerTlsFiles files{config.tls_cert.path, config.tls_key.path, config.tls_client_ca.path};
    std::string failed;
    SslCtxPtr ctx = make_server_tls(files, err, &failed);
    // file:line of the key that named the file at fault
    const FileRef& at = failed == "TLS_KEY"         ? config.tls_key
                        : failed == "TLS_CLIENT_CA" ? config.tls_client_ca
                                                    : config.tls_cert;
    if (!ctx)
      errors.push_back({at.file, at.line, err});
    else
      out.tls.reset(ctx.release(), SSL_CTX_free);
  }
  out.auth = std::move(settings);
  return errors.size() == first;
}
