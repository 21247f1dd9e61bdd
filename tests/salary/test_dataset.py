"""Reading and validating salary CSVs."""

import hashlib

import numpy as np
import pytest

from salary.dataset import CsvScan, bundled_data_path, read_salary_csv, resolve_data_uri, write_salary_csv
from salary.errors import DataValidationError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def rows(count, start=1.0):
    return "".join(f"{start + i},{40000 + 1000 * i}\n" for i in range(count))


def test_bundled_data_is_valid_and_realistic():
    data = read_salary_csv(str(bundled_data_path()))
    assert data.rows >= 100
    assert 0 <= data.years.min() and data.years.max() <= 40
    assert (data.salary > 0).all()
    assert len(data.sha256) == 64


def test_empty_uri_means_the_bundled_csv():
    assert resolve_data_uri("") == str(bundled_data_path())
    assert resolve_data_uri("/x.csv") == "/x.csv"


def test_reads_values_exactly_and_ignores_blank_lines_and_column_order(tmp_path):
    path = write(tmp_path, "Salary,YearsExperience\n" + "".join(f"{50000 + i},{i}.5\n\n" for i in range(10)))
    data = read_salary_csv(path)
    assert data.rows == 10
    assert data.years.tolist() == [i + 0.5 for i in range(10)]
    assert data.salary.tolist() == [50000.0 + i for i in range(10)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "file is empty, expected header YearsExperience,Salary"),
        ("Years,Salary\n" + rows(10), "line 1: header 'Years,Salary' lacks column(s) YearsExperience"),
        (
            "YearsExperience,Salary,YearsExperience\n" + "".join(f"{i},{40000 + i},{50 - i}\n" for i in range(10)),
            "line 1: header 'YearsExperience,Salary,YearsExperience' has more than one YearsExperience column",
        ),
        (
            "Salary,YearsExperience, Salary\n" + rows(10).replace("\n", ",1\n"),
            "line 1: header 'Salary,YearsExperience,Salary' has more than one Salary column",
        ),
        (
            "YearsExperience,Salary,yearsexperience\n" + rows(10).replace("\n", ",1\n"),
            "line 1: header 'YearsExperience,Salary,yearsexperience' has more than one YearsExperience column",
        ),
        (
            "YearsExperience,Salary\n" + rows(3) + "abc,50000\n" + rows(6),
            "line 5, column YearsExperience: 'abc' is not a number",
        ),
        ("YearsExperience,Salary\n" + rows(10) + "2.0,nan\n", "line 12, column Salary: 'nan' is not finite"),
        ("YearsExperience,Salary\n" + rows(10) + "inf,5\n", "line 12, column YearsExperience: 'inf' is not finite"),
        (
            "YearsExperience,Salary\n" + rows(10) + "61,50000\n",
            "line 12, column YearsExperience: 61 is outside [0, 60]",
        ),
        (
            "YearsExperience,Salary\n" + rows(10) + "-1,50000\n",
            "line 12, column YearsExperience: -1 is outside [0, 60]",
        ),
        ("YearsExperience,Salary\n" + rows(10) + "3,0\n", "line 12, column Salary: 0 is not positive"),
        ("YearsExperience,Salary\n" + rows(10) + "3\n", "line 12: expected 2 fields, found 1"),
        ("YearsExperience,Salary\n" + rows(9), "9 data rows, at least 10 are needed"),
    ],
)
def test_bad_data_names_file_line_and_column(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(DataValidationError) as caught:
        read_salary_csv(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_missing_file_and_directory_and_binary(tmp_path):
    with pytest.raises(DataValidationError, match="nope.csv: file not found"):
        read_salary_csv(str(tmp_path / "nope.csv"))
    with pytest.raises(DataValidationError, match="is a directory"):
        read_salary_csv(str(tmp_path))
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataValidationError, match="not UTF-8 text"):
        read_salary_csv(str(binary))


def test_shipped_csv_is_what_the_seeded_script_makes(tmp_path):
    from salary.data.make_salary_csv import main

    output = tmp_path / "regenerated.csv"
    main(["--output", str(output)])
    assert output.read_bytes() == bundled_data_path().read_bytes()


def scan_all(path, chunk_bytes):
    scan = CsvScan(str(path), chunk_bytes=chunk_bytes)
    parts = list(scan.chunks())
    return scan, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), len(parts)


def test_chunked_reading_gives_the_same_rows_at_any_chunk_size(tmp_path):
    rng = np.random.default_rng(3)
    years, salary = rng.uniform(0, 60, 3000), rng.uniform(1, 1e6, 3000)
    path = tmp_path / "data.csv"
    write_salary_csv(str(path), years, salary)
    for chunk_bytes in (64, 1000, 1 << 22):
        scan, got_years, got_salary, parts = scan_all(path, chunk_bytes)
        # repr() round-trips and both parsers round correctly: the values are the written ones, bit for bit.
        assert got_years.tolist() == years.tolist() and got_salary.tolist() == salary.tolist()
        assert scan.rows == 3000 and scan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert parts >= path.stat().st_size // (2 * chunk_bytes)


def test_plain_and_exact_parsers_agree(tmp_path):
    """Quotes send a chunk to the csv-module parser; the values must not change with the parser."""
    text = "Salary,YearsExperience\r\n" + "".join(f"{50000.5 + i}, {i / 7!r}\r\n\n" for i in range(40))
    plain = write(tmp_path, text, "plain.csv")
    quoted = write(tmp_path, text.replace(", ", ',"').replace("\r\n\n", '"\r\n\n'), "quoted.csv")
    a, b = read_salary_csv(plain), read_salary_csv(quoted)
    assert a.years.tolist() == b.years.tolist() == [i / 7 for i in range(40)]
    assert a.salary.tolist() == b.salary.tolist()


@pytest.mark.parametrize("chunk_bytes", [16, 50, 1 << 20])
def test_errors_name_the_right_line_across_chunks(tmp_path, chunk_bytes):
    lines = [f"{i % 40}.5,{40000 + i}" for i in range(200)]
    lines[150] = "12,-3"
    path = write(tmp_path, "YearsExperience,Salary\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataValidationError) as caught:
        list(CsvScan(path, chunk_bytes=chunk_bytes).chunks())
    assert str(caught.value) == f"{path}: line 152, column Salary: -3 is not positive"


def test_an_endless_line_is_refused_without_reading_it_whole(tmp_path):
    path = write(tmp_path, "YearsExperience,Salary\n1," + "1" * 5000)
    with pytest.raises(DataValidationError, match="line 2 is longer than 2000 bytes"):
        list(CsvScan(path, chunk_bytes=1000).chunks())


def test_gcs_csv_is_streamed_in_chunks(fake_gcs, tmp_path):
    from google.cloud import storage

    from tests.support.storage import new_bucket

    bucket = new_bucket("data").removeprefix("gs://").split("/")[0]
    local = tmp_path / "local.csv"
    write_salary_csv(str(local), np.arange(0.0, 50.0), np.arange(1000.0, 1050.0))
    storage.Client().bucket(bucket).blob("data/salary.csv").upload_from_filename(str(local))
    scan, years, salary, parts = scan_all(f"gs://{bucket}/data/salary.csv", 100)
    assert years.tolist() == list(range(50)) and salary.tolist() == [1000.0 + i for i in range(50)]
    assert parts > 3 and scan.sha256 == hashlib.sha256(local.read_bytes()).hexdigest()
    with pytest.raises(DataValidationError, match=f"^gs://{bucket}/data/nope.csv: file not found$"):
        read_salary_csv(f"gs://{bucket}/data/nope.csv")
