"""`TFRecord`: random access to the tiles of one file through its index, one reused handle."""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator

import numpy as np

from .errors import TFRecordError
from .framing import iter_frames, read_frame
from .images import sniff_format
from .index import IndexInfo, ensure_index, index_location, index_problem, record_location
from .index_files import max_index_records, read_index_file
from .records import RawRecord, field_order, image_bytes, parse_example, parse_public
from .source import check_compression, open_source, source_size
from .storage import storage_for


class TFRecord:
    """One TFRecord file, Slideflow-style: `fields`, `img_format`, `length`, `locations`, `tfr[i]`.

    The index is found (and checked) or built on open: written beside the file when
    `create_index` (in the cache folder if the folder is read-only), kept in memory otherwise.
    Reads share one file handle under a lock, so one object can serve several threads. `path`
    may be a URL of any registered storage; the storage is looked up once, here.
    `compression_type` ('gzip', 'zlib', or None / '' to detect it) as TensorFlow spells it.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        create_index: bool = True,
        verify_crc: bool = True,
        index: IndexInfo | np.ndarray | str | os.PathLike | None = None,
        compression_type: str | None = None,
    ) -> None:
        self.path = os.fsdecode(os.fspath(path))  # bytes paths (as Slideflow passes them) too
        self.verify_crc = verify_crc
        self._lock = threading.Lock()
        self._storage = storage_for(self.path)
        self._compression = check_compression(compression_type)
        self._file = open_source(self.path, self._storage, self._compression)
        try:
            self._size = source_size(self._file)
            if self._size == 0:
                raise TFRecordError("empty file: holds no records", self.path)
            if index is None:
                self.index_info = ensure_index(self.path, create=create_index, verify_crc=verify_crc)
            else:
                self.index_info = self._given_index(index)
        except BaseException:
            self._file.close()
            raise
        self.offsets: np.ndarray = self.index_info.offsets
        self.locations_array: np.ndarray | None = self.index_info.locations
        self._fields: list[str] | None = None
        self._img_format: str | None = None
        self._xy_lookup: dict[tuple[int, int], int] | None = None
        self._small_features: dict = {}  # see records.parse_public
        self._locations_read = False

    def _given_index(self, index: IndexInfo | np.ndarray | str | os.PathLike) -> IndexInfo:
        """An index passed in: an `IndexInfo`, the `arr_0` array or an index file's path (as
        Slideflow takes them). The array or file is checked against this file, never trusted."""
        if isinstance(index, IndexInfo):
            return index
        where = None
        if isinstance(index, (str, os.PathLike)):
            where = index_location(os.fspath(index))
            try:
                offsets, locations = read_index_file(where, max_index_records(self._size))
            except (OSError, ValueError) as exc:
                raise TFRecordError(f"cannot use the index given ({exc})", self.path) from None
        else:
            offsets, locations = np.asarray(index), None
            if offsets.shape == (2,):  # a one-record file, as Slideflow allows
                offsets = offsets.reshape(1, 2)
            if offsets.ndim != 2 or offsets.shape[1:] != (2,) or offsets.dtype.kind not in "iu":
                raise TFRecordError(
                    f"index must be an (n, 2) integer array, got shape {offsets.shape} {offsets.dtype}", self.path
                )
        offsets = offsets.astype(np.int64)
        problem = index_problem(offsets, locations, self._size)
        if problem is not None:
            raise TFRecordError(f"the index given does not fit this file: {problem}", self.path)
        return IndexInfo(offsets, locations, where)

    # --- metadata ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def length(self) -> int:
        return len(self.offsets)

    @property
    def fields(self) -> list[str]:
        """Feature names of the first record, in the order they are stored."""
        if self._fields is None:
            self._fields = field_order(self.read_payload(0), self.path, 0) if len(self) else []
        return list(self._fields)

    @property
    def img_format(self) -> str | None:
        """'jpeg' or 'png', sniffed from the first record's image bytes (None if empty file)."""
        if self._img_format is None and len(self):
            self._img_format = sniff_format(image_bytes(self.read_raw(0), self.path, 0))
            if self._img_format is None:
                raise TFRecordError("image_raw is neither JPEG nor PNG", self.path, 0)
        return self._img_format

    @property
    def locations(self) -> list[tuple[int, int]] | None:
        """(loc_x, loc_y) tile centres of every record, or None when the file has none.

        From the index; an index without locations (`.index.npy`, a text `.index`) has them
        read from the records once, as Slideflow falls back to reading them.
        """
        locations = self._location_array()
        if locations is None:
            return None
        return [(int(x), int(y)) for x, y in locations]

    def _location_array(self) -> np.ndarray | None:
        # only an index read from a file can lack locations the records have (a scan saw them)
        if self.locations_array is None and not self._locations_read and len(self) and self.index_info.path:
            self._locations_read = True
            self.locations_array = self._read_locations()
        return self.locations_array

    def _read_locations(self) -> np.ndarray | None:
        """Every record's location, read in one pass; None at the first record without one, or
        at a damaged record (its error comes when the record itself is read)."""
        found: list[tuple[int, int]] = []
        try:
            with open_source(self.path, self._storage, self._compression) as f:
                frames = iter_frames(f, self.path, verify_crc=self.verify_crc, views=True)
                for i, (_, _, payload) in enumerate(frames):
                    if i >= len(self):
                        break
                    location = record_location(payload, self.path, i)
                    if location is None:
                        return None
                    found.append(location)
        except TFRecordError:
            return None
        return np.asarray(found, dtype=np.int64).reshape(-1, 2)

    def record_info(self, i: int) -> tuple[int, int]:
        """(byte offset, record length including framing) of record `i`, from the index."""
        i = self._check_index(i)
        offset, length = self.offsets[i]
        return int(offset), int(length)

    # --- records -------------------------------------------------------------------------------
    def _check_index(self, i: int) -> int:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"record index must be an int, not {type(i).__name__}")
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"record index out of range for {self.path} ({n} records)")
        return int(i)

    def read_payload(self, i: int) -> bytes:
        """The checked (CRC) serialized Example of record `i`."""
        return self._payload(self._check_index(i))

    def _payload(self, i: int, view: bool = False) -> bytes:
        offset, length = self.offsets[i].tolist()
        with self._lock:
            return read_frame(
                self._file, offset, length, self.path, i, self.verify_crc, self._size, view, self._storage
            )

    def read_raw(self, i: int) -> RawRecord:
        """Record `i` as name -> list of values (every feature, nothing unwrapped)."""
        i = self._check_index(i)
        return parse_example(self._payload(i), self.path, i)

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = self._check_index(i)
        order = self._fields if self._fields is not None else self.fields
        record = parse_public(self._payload(i, view=True), order, self.path, i, self._small_features)
        self._check_image(record, i)
        return record

    def _check_image(self, record: dict[str, Any], i: int) -> None:
        image = record.get("image_raw")
        if isinstance(image, bytes):
            return
        if isinstance(image, list) and image:
            raise TFRecordError(f"image_raw holds {len(image)} values, not one image", self.path, i)
        raise TFRecordError("record has no image_raw bytes", self.path, i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Records in file order, read sequentially with a handle of their own."""
        order = self.fields if len(self) else []
        with open_source(self.path, self._storage, self._compression) as f:
            for i, (_, _, payload) in enumerate(
                iter_frames(f, self.path, verify_crc=self.verify_crc)
            ):
                if i >= len(self):
                    break
                record = parse_public(payload, order, self.path, i, self._small_features)
                self._check_image(record, i)
                yield record

    def get_record_by_xy(self, x: int, y: int) -> tuple[str, bytes]:
        """(slide, image bytes) of the tile centred at (x, y); unknown location -> KeyError.

        Locations are whole numbers: (10.5, 20) names no tile (KeyError), a string is a TypeError.
        """
        key = (_coordinate(x), _coordinate(y))
        locations = self._location_array()
        if locations is None:
            raise KeyError(f"{self.path} has no tile locations; cannot look up ({x}, {y})")
        if self._xy_lookup is None:
            lookup: dict[tuple[int, int], int] = {}
            for i, (lx, ly) in enumerate(locations.tolist()):
                lookup.setdefault((lx, ly), i)
            self._xy_lookup = lookup
        i = self._xy_lookup.get(key) if None not in key else None
        if i is None:
            raise KeyError(f"no tile at location ({x}, {y}) in {self.path}")
        record = self[i]
        slide = record.get("slide", "")
        return slide, record["image_raw"]

    # --- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> "TFRecord":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TFRecord({self.path!r}, length={len(self)})"


def _coordinate(value: Any) -> int | None:
    """A location coordinate as an int; None for a number that is not whole (no tile is there)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"tile coordinates are numbers, not {type(value).__name__}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    return int(value) if float(value).is_integer() else None
