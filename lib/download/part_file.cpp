#include "download/part_file.hpp"

#include <cerrno>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exportd {

void adopt_partial_file(VideoFile& file, std::string validator, std::optional<std::uint64_t> total,
                        Checkpoint checkpoint) {
  // Only what a checkpoint vouches for is kept; the next try checks it.
  file.part.bytes = checkpoint.bytes;
  file.part.validator = std::move(validator);
  file.part.total = total;
  file.checkpoint = std::move(checkpoint);
  file.hash.reset();
  file.most = 0;
  file.in_place = false;
}

void start_over(VideoFile& file) {
  file.part = {};
  file.checkpoint = {};
  file.hash.reset();
  file.in_place = false;
}

namespace {

// Feeds the first `n` bytes of `fd` into `hash` (from the start); 0, or the
// errno of the read that failed (EIO: the file is shorter than `n`).
int hash_prefix(int fd, std::uint64_t n, Sha256& hash, std::vector<char>& scratch) {
  hash.reset();
  for (std::uint64_t at = 0; at < n;) {
    const auto got =
        ::pread(fd, scratch.data(), std::min<std::uint64_t>(scratch.size(), n - at), static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return got < 0 ? errno : EIO;
    hash.update(scratch.data(), static_cast<std::size_t>(got));
    at += static_cast<std::uint64_t>(got);
  }
  return 0;
}

// Whether the first `ck.bytes` bytes of `leaf` in `dir` hash to `ck.sha256`
// (`hash` then covers them).
bool matches(int dir, const std::string& leaf, const Checkpoint& ck, Sha256& hash, std::vector<char>& scratch) {
  UniqueFd fd(::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd || hash_prefix(fd.get(), ck.bytes, hash, scratch) != 0) return false;
  return ck.bytes == 0 || hash.hex() == ck.sha256;
}

}  // namespace

// Before a try asks for anything, in NAME's folder (opened below the root,
// made as needed, no link followed): NAME not something else (a folder),
// and, after a restart, the bytes on disk checked against the journal's
// checkpoint: the part is kept up to it only if they still hash to its
// digest; a NAME already in place only if it does. Nothing: go on (`file`
// says from where); otherwise how the try ends. `discarded` says what was
// thrown away.
PartCheck check_part(const VideoFolder& folder, VideoFile& file, std::size_t scratch_bytes) {
  PartCheck out;
  auto& discarded = out.discarded;
  const int dir = folder.fd.get();
  const auto& leaf = folder.leaf;
  const std::string part_leaf = leaf + ".part";
  struct stat st {};
  const bool named = ::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (named && !S_ISREG(st.st_mode))
    return {PartNext::blocked,
            file.path +
                " exists and is not a regular file (a folder or a link): it is left alone; move it away or "
                "change download.name",
            {}};
  if (file.in_place) return {PartNext::in_place, {}, {}};
  if (file.hash.bytes() == file.part.bytes) return out;  // this run's bytes, hashed as they were written

  std::vector<char> scratch(scratch_bytes);
  const auto& ck = file.checkpoint;
  struct stat ps {};
  const bool has_part = ::fstatat(dir, part_leaf.c_str(), &ps, AT_SYMLINK_NOFOLLOW) == 0;
  if (!has_part && named && ck.bytes > 0 && file.part.total == ck.bytes) {
    // Renamed into place before a crash cut the job short of recording its end.
    if (static_cast<std::uint64_t>(st.st_size) == ck.bytes && matches(dir, leaf, ck, file.hash, scratch)) {
      file.part.bytes = ck.bytes;
      file.in_place = true;
      out.next = PartNext::in_place;
      return out;
    }
    discarded = file.path + " does not hash to the digest journaled for it: downloading it again";
    start_over(file);
    return out;
  }
  if (has_part && S_ISREG(ps.st_mode) && static_cast<std::uint64_t>(ps.st_size) >= ck.bytes &&
      matches(dir, part_leaf, ck, file.hash, scratch)) {
    file.part.bytes = ck.bytes;  // what follows the checkpoint may never have reached the disk: fetched again
    return out;
  }
  if (ck.bytes > 0)
    discarded = file.part_path() + " does not match its checkpoint (" + std::to_string(ck.bytes) +
                " bytes journaled): downloading the video again";
  start_over(file);
  return out;
}

PartWriter open_part(const VideoFolder& folder, VideoFile& file, std::uint64_t offset) {
  PartWriter w;
  const std::string part_leaf = folder.leaf + ".part";
  w.fd = UniqueFd(::openat(folder.fd.get(), part_leaf.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!w.fd) return {{}, system_failure(errno, "cannot open " + file.part_path())};
  struct stat st {};
  ::fstat(w.fd.get(), &st);
  if (offset > static_cast<std::uint64_t>(st.st_size)) {
    // Changed under us: the bytes that came for `offset` cannot go there.
    start_over(file);
    return {{},
            Failure{Errc::invalid_input, file.part_path() + " is shorter than recorded; starting the download over"},
            true};
  }
  if (::ftruncate(w.fd.get(), static_cast<off_t>(offset)) != 0 ||
      ::lseek(w.fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
    return {{}, system_failure(errno, "cannot set " + file.part_path() + " to " + std::to_string(offset) + " bytes")};
  file.part.bytes = offset;
  return w;
}

Written write_part(int fd, const char* data, std::size_t n, Sha256& hash) {
  Written w;
  while (w.bytes < n) {
    const auto r = ::write(fd, data + w.bytes, n - w.bytes);
    if (r < 0) {
      if (errno == EINTR) continue;
      w.error = errno;
      break;
    }
    w.bytes += static_cast<std::size_t>(r);
  }
  hash.update(data, w.bytes);
  return w;
}

Result<FinishedVideo> finish_part(const DownloadRoot& root, VideoFile& file) {
  auto folder = root.folder_of(file.path, false);
  if (!folder) return folder.error();
  const int dir = folder->fd.get();
  const std::string part_leaf = folder->leaf + ".part";
  const bool renamed = file.in_place;  // before a crash cut the job short of recording its end; checked since
  const auto& path = renamed ? file.path : file.part_path();
  UniqueFd fd(::openat(dir, renamed ? folder->leaf.c_str() : part_leaf.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return system_failure(errno, "cannot open " + path);
  struct stat st {};
  ::fstat(fd.get(), &st);
  const auto bytes = static_cast<std::uint64_t>(st.st_size);
  if (bytes != file.part.bytes || (file.part.total && bytes != *file.part.total))
    return Failure{Errc::invalid_input, path + " holds " + std::to_string(bytes) + " bytes, not the " +
                                            std::to_string(file.part.total.value_or(file.part.bytes)) + " expected"};
  // The digest recorded is of the bytes this run wrote, or checked
  // against a checkpoint: never one read back from a file nobody vouched for.
  if (file.hash.bytes() != bytes)
    return Failure{Errc::invalid_input, path + ": the digest covers " + std::to_string(file.hash.bytes()) + " of its " +
                                            std::to_string(bytes) + " bytes"};
  if (!renamed) {
    if (::fsync(fd.get()) != 0) return system_failure(errno, "cannot sync " + path);
    if (::renameat(dir, part_leaf.c_str(), dir, folder->leaf.c_str()) != 0)
      return system_failure(errno, "cannot rename " + path);
    if (::fsync(dir) != 0) return system_failure(errno, "cannot sync the folder of " + file.path);
    file.in_place = true;
  }
  return FinishedVideo{file.path, bytes, file.hash.hex()};
}

}  // namespace exportd
