package org.wrpn.train;

import static org.wrpn.train.Safetensors.CHUNK_BYTES;
import static org.wrpn.train.Safetensors.JSON;
import static org.wrpn.train.Safetensors.MAX_ARRAY_LENGTH;
import static org.wrpn.train.Safetensors.MAX_HEADER_BYTES;
import static org.wrpn.train.Safetensors.METADATA_KEY;
import static org.wrpn.train.Safetensors.TENSOR_FIELDS;
import static org.wrpn.train.Safetensors.abbreviate;
import static org.wrpn.train.Safetensors.oneLine;
import static org.wrpn.train.Safetensors.quote;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.train.Safetensors.Contents;
import org.wrpn.train.NamedArray.Dtype;
/** Reads one safetensors file and validates all of it (header, offsets, coverage, sizes) before returning anything. */
final class SafetensorsReader {
    private record Entry(String name, Dtype dtype, int[] shape, long begin, long end) {}

    private final Path file;
    private final FileChannel channel;

    SafetensorsReader(Path file, FileChannel channel) {
        this.file = file;
        this.channel = channel;
    }

    Contents read() throws IOException {
        long size = channel.size();
        if (size < 8) throw bad("file is " + size + " bytes, shorter than the 8-byte header length");
        long headerLength = readFully(0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw bad("header length " + Long.toUnsignedString(headerLength) + " is absurd (limit " + MAX_HEADER_BYTES + ")");
        }
        if (headerLength > size - 8) {
            throw bad("header length " + headerLength + " exceeds the " + (size - 8) + " bytes after the length field");
        }
        JsonNode root = parseHeader(readFully(8, (int) headerLength));
        long dataStart = 8 + headerLength;
        long dataLength = size - dataStart;

        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                parseMetadata(field.getValue(), metadata);
            } else {
                entries.add(parseEntry(field.getKey(), field.getValue(), dataLength));
            }
        }
        checkCoverage(entries, dataLength);

        LinkedHashMap<String, NamedArray> tensors = new LinkedHashMap<>();
        for (Entry e : entries) tensors.put(e.name, readTensor(e, dataStart));
        return new Contents(file, tensors, metadata);
    }

    private JsonNode parseHeader(ByteBuffer bytes) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw bad("header is not valid UTF-8", e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at column " + e.getLocation().getColumnNr();
            throw bad("header is not valid JSON" + where + ": " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw bad("header is not a JSON object");
        return root;
    }

    private void parseMetadata(JsonNode node, Map<String, String> metadata) {
        if (!node.isObject()) throw bad(METADATA_KEY + " is not a JSON object");
        for (Map.Entry<String, JsonNode> kv : node.properties()) {
            if (!kv.getValue().isTextual()) throw bad(METADATA_KEY + " value for " + quote(kv.getKey()) + " is not a string");
            metadata.put(kv.getKey(), kv.getValue().textValue());
        }
    }

    private Entry parseEntry(String name, JsonNode node, long dataLength) {
        String tensor = "tensor " + quote(name);
        if (!node.isObject()) throw bad(tensor + " is not a JSON object");
        for (Map.Entry<String, JsonNode> kv : node.properties()) {
            if (!TENSOR_FIELDS.contains(kv.getKey())) throw bad(tensor + " has unknown field " + quote(kv.getKey()));
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) throw bad(tensor + " has no string dtype");
        Dtype dtype;
        try {
            dtype = Dtype.valueOf(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw bad(tensor + " has unsupported dtype " + quote(dtypeNode.textValue()));
        }

        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) throw bad(tensor + " has no shape array");
        int[] shape = new int[shapeNode.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            long d = nonNegativeInteger(shapeNode.get(i), tensor + " shape");
            if (d > Integer.MAX_VALUE) throw bad(tensor + " has dimension " + d + ", too large");
            shape[i] = (int) d;
            count *= d;
            if (count > MAX_ARRAY_LENGTH) throw bad(tensor + " shape " + shapeNode + " has too many elements for one array");
        }

        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2) {
            throw bad(tensor + " has no data_offsets [begin, end]");
        }
        long begin = nonNegativeInteger(offsets.get(0), tensor + " data_offsets");
        long end = nonNegativeInteger(offsets.get(1), tensor + " data_offsets");
        if (end < begin) throw bad(tensor + " data_offsets [" + begin + ", " + end + "] end before begin");
        if (end > dataLength) {
            throw bad(tensor + " data_offsets [" + begin + ", " + end + "] exceed the " + dataLength + "-byte data buffer");
        }
        long expected = count * dtype.byteSize();
        if (end - begin != expected) {
            throw bad(tensor + " data_offsets [" + begin + ", " + end + "] span " + (end - begin) + " bytes, but "
                    + dtype + Arrays.toString(shape) + " needs " + expected);
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private long nonNegativeInteger(JsonNode node, String what) {
        if (node == null || !node.isIntegralNumber() || !node.canConvertToLong() || node.longValue() < 0) {
            throw bad(what + " holds " + (node == null ? "nothing" : abbreviate(node.toString()))
                    + ", not a non-negative integer");
        }
        return node.longValue();
    }

    /** The tensors must tile the data buffer exactly: no overlap, gap or trailing bytes. */
    private void checkCoverage(List<Entry> entries, long dataLength) {
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.begin < covered) {
                throw bad("tensor " + quote(e.name) + " overlaps tensor " + quote(previous.name)
                        + " (bytes " + e.begin + ".." + covered + ")");
            }
            if (e.begin > covered) throw bad("data bytes " + covered + ".." + e.begin + " belong to no tensor");
            covered = e.end;
            previous = e;
        }
        if (covered != dataLength) throw bad((dataLength - covered) + " trailing bytes after the last tensor");
    }

    private NamedArray readTensor(Entry e, long dataStart) throws IOException {
        int count = (int) NamedArray.elementCount(e.shape);
        int elementBytes = e.dtype.byteSize();
        Object data = switch (e.dtype) {
            case F32 -> new float[count];
            case F64 -> new double[count];
            case I8, U8 -> new byte[count];
            case I32 -> new int[count];
            case I64 -> new long[count];
        };
        int perChunk = CHUNK_BYTES / elementBytes;
        for (int start = 0; start < count; start += perChunk) {
            int n = Math.min(perChunk, count - start);
            ByteBuffer chunk = readFully(dataStart + e.begin + (long) start * elementBytes, n * elementBytes)
                    .order(ByteOrder.LITTLE_ENDIAN);
            switch (e.dtype) {
                case F32 -> chunk.asFloatBuffer().get((float[]) data, start, n);
                case F64 -> chunk.asDoubleBuffer().get((double[]) data, start, n);
                case I8, U8 -> chunk.get((byte[]) data, start, n);
                case I32 -> chunk.asIntBuffer().get((int[]) data, start, n);
                case I64 -> chunk.asLongBuffer().get((long[]) data, start, n);
            }
        }
        return switch (e.dtype) {
            case F32 -> NamedArray.f32(e.name, e.shape, (float[]) data);
            case F64 -> NamedArray.f64(e.name, e.shape, (double[]) data);
            case I8 -> NamedArray.i8(e.name, e.shape, (byte[]) data);
            case U8 -> NamedArray.u8(e.name, e.shape, (byte[]) data);
            case I32 -> NamedArray.i32(e.name, e.shape, (int[]) data);
            case I64 -> NamedArray.i64(e.name, e.shape, (long[]) data);
        };
    }

    /** Reads exactly {@code length} bytes at {@code position}; a short file is bad input. */
    private ByteBuffer readFully(long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position + buffer.position());
            if (n < 0) throw bad("unexpected end of file at byte " + (position + buffer.position()), new EOFException());
        }
        return buffer.flip();
    }

    private BadInputException bad(String problem) {
        return bad(problem, null);
    }

    private BadInputException bad(String problem, Throwable cause) {
        return new BadInputException(oneLine(file + ": " + problem), cause);
    }
}
